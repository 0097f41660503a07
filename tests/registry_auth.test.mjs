// The npm host logs in to registries as the native CLI does (host/tests/registry_auth.rs): TLS with a
// private CA, htpasswd (Basic) and token (Bearer) auth, credentials from options, docker's config.json
// and the environment. Pushes are checked with skopeo; secrets never show up in errors or output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, tokenRequests, USER, PASSWORD, REFRESH_TOKEN } from './support/registry.mjs';

const repo = path.resolve(import.meta.dirname, '..');
const rootfs = path.join(repo, 'examples', 'rootfs');
const npmBin = path.join(repo, 'npm', 'bin', 'outport.js');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
const CREDS = `${USER}:${PASSWORD}`;

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'outport-auth-'));
}

/** Asynchronous: the token server runs in this process and must keep answering while skopeo asks it. */
async function skopeoDigest(registry, reference) {
  const args = ['inspect', '--cert-dir', registry.certDir, '--creds', CREDS, `docker://${registry.addr}/${reference}`];
  const { stdout } = await promisify(execFile)('skopeo', args, { encoding: 'utf8' });
  return JSON.parse(stdout).Digest;
}

/** Run `job` with DOCKER_CONFIG pointing at `config` (written as config.json) and no CI credentials set. */
async function withDockerConfig(work, config, job) {
  const saved = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, OUTPORT_REGISTRY_USER: process.env.OUTPORT_REGISTRY_USER, OUTPORT_REGISTRY_TOKEN: process.env.OUTPORT_REGISTRY_TOKEN };
  const dir = path.join(work, 'docker');
  fs.mkdirSync(dir, { recursive: true });
  if (config) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  process.env.DOCKER_CONFIG = dir;
  delete process.env.OUTPORT_REGISTRY_USER;
  delete process.env.OUTPORT_REGISTRY_TOKEN;
  try {
    return await job();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** The npm CLI, run without blocking this process's event loop. */
function runCli(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const noSecret = (text) => {
  for (const secret of [PASSWORD, REFRESH_TOKEN, 'wrong-secret-never-logged']) assert.ok(!text.includes(secret), `secret leaked: ${text}`);
};

test('npm: TLS verified with registryCa, Basic auth from creds, clear errors otherwise', async () => {
  const registry = await startRegistry({ tls: true, auth: 'basic' });
  const work = tempDir();
  const store = path.join(work, 'store');
  const spec = (tag) => [`type=registry,name=${registry.addr}/app:${tag}`];
  try {
    await withDockerConfig(work, null, async () => {
      await assert.rejects(exportImage({ rootfs, store, outputs: spec(1), creds: CREDS }), (err) => {
        assert.match(err.message, /certificate/);
        assert.match(err.message, /registryCa/);
        noSecret(err.message);
        return true;
      });
      await assert.rejects(exportImage({ rootfs, store, outputs: spec(1), registryCa: registry.ca }), (err) => {
        assert.equal(err.kind, 'auth');
        assert.match(err.message, new RegExp(`no credentials for ${registry.addr}`));
        return true;
      });
      await assert.rejects(
        exportImage({ rootfs, store, outputs: spec(1), registryCa: registry.ca, creds: `${USER}:wrong-secret-never-logged` }),
        (err) => {
          assert.match(err.message, new RegExp(`the credentials for ${registry.addr} were rejected`));
          noSecret(err.message);
          return true;
        },
      );
      const meta = await exportImage({ rootfs, store, outputs: spec(1), registryCa: registry.ca, creds: { username: USER, password: PASSWORD } });
      assert.equal(meta['containerimage.digest'], await skopeoDigest(registry, 'app:1'));
      const insecure = await exportImage({ rootfs, store, outputs: [`${spec(2)[0]},registry.insecure=true`], creds: CREDS });
      assert.equal(insecure['containerimage.digest'], await skopeoDigest(registry, 'app:2'));
    });

    // The npm CLI: docker config auths entry, as `docker login` writes it.
    const auth = Buffer.from(CREDS).toString('base64');
    fs.mkdirSync(path.join(work, 'docker'), { recursive: true });
    fs.writeFileSync(path.join(work, 'docker', 'config.json'), JSON.stringify({ auths: { [registry.addr]: { auth } } }));
    const cli = await runCli([npmBin, 'export', rootfs, '-o', spec(3)[0], '--registry-ca', registry.ca, '--progress', 'json'], {
      ...process.env, OUTPORT_STORE: store, DOCKER_CONFIG: path.join(work, 'docker'), OUTPORT_REGISTRY_USER: '', OUTPORT_REGISTRY_TOKEN: '',
    });
    assert.equal(cli.status, 0, cli.stderr);
    noSecret(cli.stdout + cli.stderr);
    assert.equal(JSON.parse(cli.stdout)['containerimage.digest'], await skopeoDigest(registry, 'app:3'));
  } finally {
    registry.close();
  }
});

test('npm: Bearer token flow with a password, then an identity token, one token per push', async () => {
  const registry = await startRegistry({ tls: true, auth: 'token' });
  const work = tempDir();
  const store = path.join(work, 'store');
  try {
    await withDockerConfig(work, null, async () => {
      const meta = await exportImage({ rootfs, store, outputs: [`type=registry,name=${registry.addr}/app:1`], registryCa: registry.ca, creds: CREDS });
      const requests = tokenRequests(registry);
      assert.equal(requests.length, 1, JSON.stringify(requests));
      assert.ok(requests[0].scopes.includes('repository:app:pull,push'));
      assert.equal(meta['containerimage.digest'], await skopeoDigest(registry, 'app:1'));
    });
    await withDockerConfig(work, { auths: { [`https://${registry.addr}`]: { identitytoken: REFRESH_TOKEN } } }, async () => {
      const { push } = createRequire(import.meta.url)(path.join(repo, 'npm'));
      const name = `${registry.addr}/app:stored`;
      const meta = await exportImage({ rootfs, store, tags: [name] });
      const pushed = await push({ name, store, registryCa: registry.ca });
      assert.equal(pushed['containerimage.digest'], meta['containerimage.digest']);
      assert.equal(await skopeoDigest(registry, 'app:stored'), meta['containerimage.digest']);
      assert.ok(tokenRequests(registry).some((r) => r.method === 'POST' && r.grant === 'refresh_token'));
    });
  } finally {
    registry.close();
  }
});

test('npm: credential helpers are asked for the registry; nothing found is anonymous, a failure names the helper', async () => {
  const registry = await startRegistry({ tls: true, auth: 'basic' });
  const work = tempDir();
  const store = path.join(work, 'store');
  const bin = path.join(work, 'bin');
  const asked = path.join(work, 'asked');
  fs.mkdirSync(bin);
  // Helpers speaking docker's protocol: `get`, the server on stdin, JSON (or a complaint) on stdout.
  const helper = (name, body) => fs.writeFileSync(path.join(bin, `docker-credential-${name}`), `#!/bin/sh\n[ "$1" = get ] || exit 1\nread -r server\necho "$server" >> '${asked}'\n${body}\n`, { mode: 0o755 });
  helper('outport-test', `printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$server"`);
  helper('outport-empty', 'echo "credentials not found in native keychain"; exit 1');
  helper('outport-broken', 'exit 3');
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath}`;
  const spec = (tag) => [`type=registry,name=${registry.addr}/app:${tag}`];
  try {
    await withDockerConfig(work, { credHelpers: { [registry.addr]: 'outport-test' }, credsStore: 'outport-broken' }, async () => {
      const meta = await exportImage({ rootfs, store, outputs: spec('helper'), registryCa: registry.ca });
      assert.equal(meta['containerimage.digest'], await skopeoDigest(registry, 'app:helper'));
      assert.equal(fs.readFileSync(asked, 'utf8').trim(), registry.addr);
    });
    await withDockerConfig(work, { credsStore: 'outport-empty' }, async () => {
      await assert.rejects(exportImage({ rootfs, store, outputs: spec('empty'), registryCa: registry.ca }), (err) => {
        assert.equal(err.kind, 'auth');
        assert.match(err.message, new RegExp(`no credentials for ${registry.addr}`));
        return true;
      });
    });
    await withDockerConfig(work, { credsStore: 'outport-broken' }, async () => {
      await assert.rejects(exportImage({ rootfs, store, outputs: spec('broken'), registryCa: registry.ca }), (err) => {
        assert.equal(err.kind, 'auth');
        assert.equal(err.message, `credential helper docker-credential-outport-broken failed for ${registry.addr} (exit status: 3)`);
        return true;
      });
    });
    await withDockerConfig(work, { credsStore: 'outport-missing' }, async () => {
      await assert.rejects(exportImage({ rootfs, store, outputs: spec('missing'), registryCa: registry.ca }), (err) => {
        assert.equal(err.kind, 'auth');
        assert.match(err.message, /^credential helper docker-credential-outport-missing: .*ENOENT/);
        return true;
      });
    });
    await withDockerConfig(work, { auths: { [registry.addr]: { auth: 'bm90LWEtcGFpcg==' } } }, async () => {
      await assert.rejects(exportImage({ rootfs, store, outputs: spec('bad'), registryCa: registry.ca }), (err) => {
        assert.equal(err.kind, 'auth');
        assert.equal(err.message, `${path.join(work, 'docker', 'config.json')}: the \`auth\` entry for ${registry.addr} is not base64 of USER:SECRET`);
        return true;
      });
    });
    await withDockerConfig(work, null, async () => {
      fs.writeFileSync(path.join(work, 'docker', 'config.json'), '{"auths": {');
      await assert.rejects(exportImage({ rootfs, store, outputs: spec('json'), registryCa: registry.ca }), (err) => {
        assert.equal(err.kind, 'auth');
        assert.ok(err.message.startsWith(`${path.join(work, 'docker', 'config.json')}: not valid JSON (`), err.message);
        return true;
      });
    });
  } finally {
    process.env.PATH = savedPath;
    registry.close();
  }
});
