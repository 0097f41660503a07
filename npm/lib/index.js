'use strict';
// outport for Node: the same exporter core as the native CLI (compiled to wasm), with a Node host.
const fs = require('node:fs');
const path = require('node:path');
const { assetFiles, loadCore } = require('./assets');
const { createNodeHost } = require('./node-host');
const { createMemoryHost } = require('./memory-host.cjs');
const { defaultStoreDir } = require('./store');
const { acquireStoreLock } = require('./store-lock');
const { checkOptions } = require('./options');
const { engineEnv } = require('./engine');

const ARCH = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };
const OS = { linux: 'linux', darwin: 'darwin', win32: 'windows', freebsd: 'freebsd' };

/** This machine's platform in OCI terms, e.g. linux/amd64. */
function hostPlatform() {
  return `${OS[process.platform] ?? process.platform}/${ARCH[process.arch] ?? process.arch}`;
}

/** The shared request builders and abort handling (ESM, shared with the browser build). */
const shared = () => import('./request.mjs');

/**
 * Export a root filesystem to every output. Resolves to buildx's result metadata
 * (`containerimage.digest`, `containerimage.config.digest`, `containerimage.descriptor`, …).
 */
async function exportImage(options) {
  checkOptions('exportImage', options, { required: true });
  const { exportRequest } = await shared();
  const onWarning = options?.onWarning ?? ((message) => process.stderr.write(`warning: ${message}\n`));
  // The Node host's store is written during the run: source walks leave it out.
  const hostWrites = options?.host ? [] : [options?.store ?? defaultStoreDir()];
  const env = { cwd: process.cwd(), hostPlatform: hostPlatform(), sourceDateEpoch: process.env.SOURCE_DATE_EPOCH, hostWrites, engineEnv: engineEnv() };
  const request = JSON.stringify(exportRequest(options, env));
  const response = JSON.parse(await withHost(options, (host, core) => core.run(host, request), WRITES_STORE));
  response.warnings.forEach((w) => onWarning(w));
  if (options?.metadataFile) writeReplacing(options.metadataFile, `${JSON.stringify(response.metadata, null, 2)}\n`);
  return response.metadata;
}

/**
 * Write a whole file under a temporary name and rename it over `file`: never seen half-written,
 * and a symlink at `file` is replaced, not followed (as every file output).
 */
function writeReplacing(file, text) {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.outport-${process.pid}.tmp`);
  try {
    fs.writeFileSync(temp, text);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw Object.assign(new Error(`metadataFile ${file}: ${err.message}`), { kind: 'output' });
  }
}

/**
 * Push images from the local store: `name` resolves to { 'containerimage.digest', 'image.name' };
 * `names` to an array of those, or rejects naming the ones not pushed (see pushAnswer).
 */
async function push(options) {
  checkOptions('push', options, { required: true });
  const { pushRequest, pushAnswer } = await shared();
  const request = JSON.stringify(pushRequest(options));
  return pushAnswer(options, JSON.parse(await withHost(options, (host, core) => core.push(host, request))));
}

/** The images in the local store: [{ name, digest, mediaType, size }], sorted by name. */
async function images(options) {
  checkOptions('images', options);
  return JSON.parse(await withHost(pick(options), (host, core) => core.images(host)));
}

/** Check the local store: resolves to { blobs, bytes, images, problems, stale } (problems: [] when whole). */
async function storeVerify(options) {
  checkOptions('storeVerify', options);
  return JSON.parse(await withHost(pick(options), (host, core) => core.storeVerify(host)));
}

/** Remove the blobs no stored image reaches and stale temporaries: resolves to { images, kept, removed, freed, temporaries }. */
async function storeGc(options) {
  checkOptions('storeGc', options);
  return JSON.parse(await withHost(pick(options), (host, core) => core.storeGc(host), WRITES_STORE));
}

/** `outport rm`: forget stored names (any spelling); the blobs go at the next storeGc. Resolves to { removed }. */
async function remove(options) {
  checkOptions('remove', options, { required: true });
  const request = JSON.stringify({ names: [].concat(options.names ?? []) });
  return JSON.parse(await withHost(pick(options), (host, core) => core.removeNames(host, request), WRITES_STORE));
}

/** The host options of the store-only calls. */
const pick = (options) => ({ store: options?.store, host: options?.host, signal: options?.signal, assetDir: options?.assetDir });

const WRITES_STORE = { writes: true };

/**
 * Run `job(host, core)` with the caller's `host` (any implementation of the host interface, e.g. the
 * in-memory one) or a Node host built from the host options, and clean up after it whatever happens.
 * With the Node host, a job that writes to the store (export, gc) holds the store's lock meanwhile,
 * as in the native CLI. `signal` (an AbortSignal) stops the job at its next step. `core` is loaded
 * from `assetDir` when given (a bundled program's assets), else from the package.
 */
async function withHost({ store, onProgress, creds, baseCreds, registryCa, threads, host: given, signal, assetDir } = {}, job, { writes = false } = {}) {
  const { runAbortable } = await shared();
  const core = loadCore(assetDir);
  if (given) return runAbortable(given, signal, (host) => job(host, core));
  signal?.throwIfAborted();
  const release = writes ? await acquireStoreLock(store ?? defaultStoreDir()) : null;
  let host;
  try {
    host = createNodeHost({ store, onProgress, creds, baseCreds, registryCa, threads, assetDir });
    return await runAbortable(host, signal, (h) => job(h, core));
  } finally {
    host?.dispose();
    release?.();
  }
}

module.exports = { exportImage, images, push, remove, storeVerify, storeGc, createNodeHost, createMemoryHost, hostPlatform, assetFiles };
