// A real CNCF Distribution registry (Debian's docker-registry) on 127.0.0.1 for the tests of both hosts:
// plain HTTP, or TLS with a throwaway CA, with no auth, htpasswd (Basic) auth, or Distribution's token
// auth backed by a small token server (https, the same CA) so the real Bearer challenge path runs.
//
// From JavaScript: `await startRegistry({ tls, auth })`. From the Rust tests: run this file with
// `--tls --auth basic|token`; it prints the registry's details as one JSON line and stops everything
// when its stdin closes (the test process dies or drops the handle).
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const USER = 'outport-user';
export const PASSWORD = 'pa55-word-never-logged';
/** What a `docker login` against an OAuth2 registry stores as `identitytoken`. */
export const REFRESH_TOKEN = 'refresh-token-never-logged';
const SERVICE = 'outport-test-registry';
const ISSUER = 'outport-test-token-issuer';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const openssl = (args, cwd) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

/** A CA and a certificate for 127.0.0.1/localhost signed by it; a self-signed token signing cert. */
function makeCertificates(dir) {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=outport test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'token.key', '-out', 'token.pem', '-days', '2',
    '-subj', '/CN=outport test token signer'], dir);
  // skopeo's --cert-dir takes CA certificates named *.crt.
  fs.mkdirSync(path.join(dir, 'certs.d'));
  fs.copyFileSync(path.join(dir, 'ca.pem'), path.join(dir, 'certs.d', 'ca.crt'));
}

const base64url = (data) => Buffer.from(data).toString('base64url');

/** An RS256 JWT as Distribution's token auth verifies it: x5c chain to `rootcertbundle`, iss, aud, times, access. */
function signToken(dir, subject, access) {
  const cert = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'token.pem')));
  const header = { typ: 'JWT', alg: 'RS256', x5c: [cert.raw.toString('base64')] };
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, sub: subject, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access };
  const signed = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = crypto.sign('sha256', Buffer.from(signed), fs.readFileSync(path.join(dir, 'token.key')));
  return `${signed}.${base64url(signature)}`;
}

/** `repository:NAME:ACTIONS` scopes, granted in full to the test user and pull-only to anonymous callers. */
function grant(scopes, user) {
  return scopes.flatMap((scope) => {
    const [type, name, actions] = scope.split(':');
    if (type !== 'repository' || !name || !actions) return [];
    const allowed = actions.split(',').filter((a) => user || a === 'pull');
    return allowed.length ? [{ type, name, actions: allowed }] : [];
  });
}

/** The token endpoint: GET with optional Basic credentials, or POST (OAuth2 password / refresh_token grants). */
function startTokenServer(dir, port, log) {
  const server = https.createServer({ key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) });
  server.on('request', (req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const url = new URL(req.url, `https://127.0.0.1:${port}`);
      const form = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
      let user = null;
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      if (basic) {
        const [name, ...rest] = Buffer.from(basic[1], 'base64').toString().split(':');
        user = name === USER && rest.join(':') === PASSWORD ? name : false;
      }
      if (req.method === 'POST') {
        const grantType = form.get('grant_type');
        if (grantType === 'refresh_token') user = form.get('refresh_token') === REFRESH_TOKEN ? USER : false;
        else if (grantType === 'password') user = form.get('username') === USER && form.get('password') === PASSWORD ? USER : false;
        else user = false;
      }
      const scopes = form.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      fs.appendFileSync(log, `${JSON.stringify({ method: req.method, grant: form.get('grant_type'), user, scopes, service: form.get('service') })}\n`);
      if (user === false || form.get('service') !== SERVICE) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const token = signToken(dir, user ?? '', grant(scopes, user));
      const reply = req.method === 'POST' ? { access_token: token, expires_in: 300 } : { token, access_token: token, expires_in: 300 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function waitForPort(port) {
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not listen on 127.0.0.1:${port}`);
}

/**
 * Start a registry. `auth`: null, 'basic' (htpasswd, needs tls) or 'token' (needs tls).
 * Resolves to { addr, dir, ca, certDir, tokenLog, close() }.
 */
export async function startRegistry({ tls = false, auth = null } = {}) {
  if (auth && !tls) throw new Error('auth needs tls: Distribution refuses credentials over plain HTTP');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-registry-'));
  const port = await freePort();
  const lines = ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${dir}/data`, 'http:', `  addr: 127.0.0.1:${port}`];
  let tokenServer = null;
  const tokenLog = path.join(dir, 'token-requests.jsonl');
  if (tls) {
    makeCertificates(dir);
    lines.push('  tls:', `    certificate: ${dir}/server.pem`, `    key: ${dir}/server.key`);
  }
  if (auth === 'basic') {
    fs.writeFileSync(path.join(dir, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', USER, PASSWORD]));
    lines.push('auth:', '  htpasswd:', '    realm: outport-test', `    path: ${dir}/htpasswd`);
  } else if (auth === 'token') {
    const tokenPort = await freePort();
    tokenServer = await startTokenServer(dir, tokenPort, tokenLog);
    lines.push('auth:', '  token:', `    realm: https://127.0.0.1:${tokenPort}/token`, `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`, `    rootcertbundle: ${dir}/token.pem`);
  } else if (auth) {
    throw new Error(`unknown auth ${auth}`);
  }
  fs.writeFileSync(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const registry = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  const close = () => {
    registry.kill();
    tokenServer?.close();
    tokenServer?.closeAllConnections();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port);
  } catch (err) {
    close();
    throw err;
  }
  return {
    addr: `127.0.0.1:${port}`,
    dir,
    ca: tls ? path.join(dir, 'ca.pem') : null,
    certDir: tls ? path.join(dir, 'certs.d') : null,
    tokenLog,
    close,
  };
}

/** The token server's requests so far (method, grant, user, scopes), oldest first. */
export function tokenRequests(registry) {
  if (!fs.existsSync(registry.tokenLog)) return [];
  return fs.readFileSync(registry.tokenLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const authAt = args.indexOf('--auth');
  const registry = await startRegistry({ tls: args.includes('--tls'), auth: authAt >= 0 ? args[authAt + 1] : null });
  process.stdout.write(`${JSON.stringify({ ...registry, user: USER, password: PASSWORD, refreshToken: REFRESH_TOKEN })}\n`);
  const stop = () => {
    registry.close();
    process.exit(0);
  };
  process.stdin.on('end', stop).on('close', stop).resume();
  process.on('SIGTERM', stop);
}
