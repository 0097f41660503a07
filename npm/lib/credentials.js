'use strict';
// Registry credentials, found where docker keeps them (the same rules as the native host):
// `creds` / OUTPORT_REGISTRY_USER + OUTPORT_REGISTRY_TOKEN for the registry being pushed to, else
// docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json): credHelpers, credsStore,
// auths. Secrets never appear in an error message.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { hostError } = require('./errors');

// docker.io's key in config.json and for credential helpers: the v1 index URL, for history's sake.
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

const authError = (message) => hostError('auth', message);
const credential = (username, password, identityToken = '') => ({ username, password, identityToken });

function parsePair(pair) {
  const colon = pair.indexOf(':');
  if (colon <= 0) return null;
  return credential(pair.slice(0, colon), pair.slice(colon + 1));
}

/** `creds`: 'USER:SECRET' or { username, password }; else the environment. Only for the push target. */
function pushCredential(creds) {
  if (typeof creds === 'string') {
    const parsed = parsePair(creds);
    if (!parsed) throw hostError('invalid-option', 'creds: expected USER:SECRET (e.g. octocat:$GITHUB_TOKEN)');
    return parsed;
  }
  if (creds) {
    if (typeof creds.username !== 'string' || !creds.username || typeof creds.password !== 'string') {
      throw hostError('invalid-option', 'creds: expected { username, password } with a non-empty username');
    }
    return credential(creds.username, creds.password);
  }
  const user = process.env.OUTPORT_REGISTRY_USER || undefined;
  const token = process.env.OUTPORT_REGISTRY_TOKEN || undefined;
  if (user && token) return credential(user, token);
  if (user) throw hostError('invalid-option', 'OUTPORT_REGISTRY_USER is set but OUTPORT_REGISTRY_TOKEN is not');
  if (token) throw hostError('invalid-option', 'OUTPORT_REGISTRY_TOKEN is set but OUTPORT_REGISTRY_USER is not');
  return null;
}

function dockerConfigPath() {
  if (process.env.DOCKER_CONFIG) return path.join(process.env.DOCKER_CONFIG, 'config.json');
  return path.join(process.env.HOME ?? os.homedir(), '.docker', 'config.json');
}

/** config.json keys come as `host`, `https://host` or `https://host/v1/`: compare hosts only. */
function normalize(key) {
  const host = key.replace(/^https?:\/\//, '').split('/')[0];
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

function findEntry(map, key) {
  if (!map || typeof map !== 'object') return undefined;
  const wanted = normalize(key);
  const found = Object.keys(map).find((k) => normalize(k) === wanted);
  return found === undefined ? undefined : map[found];
}

/** `docker-credential-NAME get`, the server URL on stdin, `{"Username", "Secret"}` on stdout. */
function runHelper(name, key) {
  const program = `docker-credential-${name}`;
  const result = spawnSync(program, ['get'], { input: key, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
  if (result.error) throw authError(`credential helper ${program}: ${result.error.message}`);
  if (result.status !== 0) {
    // Helpers say "credentials not found in native keychain" when they have nothing for this registry.
    if (result.stdout.includes('credentials not found')) return null;
    throw authError(`credential helper ${program} failed for ${key} (exit status: ${result.status ?? result.signal})`);
  }
  let reply;
  try {
    reply = JSON.parse(result.stdout);
  } catch {
    throw authError(`credential helper ${program} answered something other than JSON for ${key}`);
  }
  const username = String(reply.Username ?? '');
  const secret = String(reply.Secret ?? '');
  return username === '<token>' ? credential('', '', secret) : credential(username, secret);
}

function fromAuths(file, config, key) {
  const entry = findEntry(config.auths, key);
  if (!entry || typeof entry !== 'object') return null;
  let username = String(entry.username ?? '');
  let password = String(entry.password ?? '');
  if (entry.auth) {
    const decoded = Buffer.from(String(entry.auth).trim(), 'base64').toString('utf8');
    const pair = parsePair(decoded);
    if (!pair) throw authError(`${file}: the \`auth\` entry for ${key} is not base64 of USER:SECRET`);
    ({ username, password } = pair);
  }
  const identityToken = String(entry.identitytoken ?? '');
  if (!username && !password && !identityToken) return null;
  return credential(username, password, identityToken);
}

function fromDockerConfig(registry) {
  const file = dockerConfigPath();
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw authError(`${file}: ${err.message}`);
  }
  let config;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw authError(`${file}: not valid JSON (${err.message})`);
  }
  const key = registry === 'docker.io' ? DOCKER_HUB_KEY : registry;
  const helper = findEntry(config.credHelpers, key) ?? config.credsStore;
  if (typeof helper === 'string' && helper) return runHelper(helper, key);
  return fromAuths(file, config, key);
}

/** `baseCreds`: 'USER:SECRET' or { username, password } for pulling the base image only. */
function pullCredential(baseCreds) {
  if (baseCreds === undefined || baseCreds === null) return null;
  const parsed = typeof baseCreds === 'string' ? parsePair(baseCreds) : baseCreds.username ? credential(baseCreds.username, baseCreds.password) : null;
  if (!parsed) throw hostError('invalid-option', 'baseCreds: expected USER:SECRET or { username, password }');
  return parsed;
}

/** The host's `credentials(registry, forPush)` import: `creds` only for pushes, `baseCreds` only for pulls. */
function createCredentials(creds, baseCreds) {
  const forPush = pushCredential(creds);
  const forPull = pullCredential(baseCreds);
  return (registry, isPush) => (isPush ? forPush : forPull) ?? fromDockerConfig(registry);
}

module.exports = { createCredentials, normalize };
