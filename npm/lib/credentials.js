'use strict';
// Registry credentials (the same rules as the native host): the ones given for this run (`creds` /
// OUTPORT_REGISTRY_USER + OUTPORT_REGISTRY_TOKEN for the registry being pushed to, `baseCreds` for
// pulls), docker's config.json where the environment puts it ($DOCKER_CONFIG/config.json or
// ~/.docker/config.json), read but not parsed, and credential helpers run. Which credential a
// registry gets, and what config.json and a helper's reply mean, is the core's business
// (src/registry/credentials.rs). Secrets never appear in an error message.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { hostError } = require('./errors');

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

/** The host's `dockerConfig` import: config.json's path and text, or null when there is none. */
function dockerConfig() {
  const file = dockerConfigPath();
  try {
    return { path: file, text: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw authError(`${file}: ${err.message}`);
  }
}

/** The host's `credentialHelper` import: `docker-credential-NAME get`, the server on stdin. */
function credentialHelper(name, server) {
  const result = spawnSync(`docker-credential-${name}`, ['get'], { input: server, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
  if (result.error) throw authError(result.error.message);
  return { success: result.status === 0, status: `exit status: ${result.status ?? result.signal}`, stdout: result.stdout };
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
  return (_registry, isPush) => (isPush ? forPush : forPull);
}

module.exports = { createCredentials, dockerConfig, credentialHelper };
