'use strict';
// outport for Node: the same exporter core as the native CLI (compiled to wasm), with a Node host.
const core = require('../wasm/outport.js');
const { createNodeHost } = require('./node-host');
const { defaultStoreDir } = require('./store');
const { acquireStoreLock } = require('./store-lock');

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
  const { exportRequest } = await shared();
  const onWarning = options?.onWarning ?? ((message) => process.stderr.write(`warning: ${message}\n`));
  const env = { cwd: process.cwd(), hostPlatform: hostPlatform(), sourceDateEpoch: process.env.SOURCE_DATE_EPOCH };
  const request = JSON.stringify(exportRequest(options, env));
  const response = JSON.parse(await withHost(options, (host) => core.run(host, request), WRITES_STORE));
  response.warnings.forEach((w) => onWarning(w));
  return response.metadata;
}

/** Push an image from the local store: resolves to { 'containerimage.digest', 'image.name' }. */
async function push(options) {
  const { pushRequest } = await shared();
  const request = JSON.stringify(pushRequest(options));
  return JSON.parse(await withHost(options, (host) => core.push(host, request)));
}

/** The images in the local store: [{ name, digest, mediaType, size }], sorted by name. */
async function images(options) {
  return JSON.parse(await withHost(pick(options), (host) => core.images(host)));
}

/** Check the local store: resolves to { blobs, bytes, images, problems } (problems: [] when whole). */
async function storeVerify(options) {
  return JSON.parse(await withHost(pick(options), (host) => core.storeVerify(host)));
}

/** Remove the blobs no stored image reaches: resolves to { images, kept, removed, freed }. */
async function storeGc(options) {
  return JSON.parse(await withHost(pick(options), (host) => core.storeGc(host), WRITES_STORE));
}

/** The host options of the store-only calls. */
const pick = (options) => ({ store: options?.store, host: options?.host, signal: options?.signal });

const WRITES_STORE = { writes: true };

/**
 * Run `job` with the caller's `host` (any implementation of the host interface, e.g. the in-memory
 * one) or a Node host built from the host options, and clean up after it whatever happens. With the
 * Node host, a job that writes to the store (export, gc) holds the store's lock meanwhile, as in the
 * native CLI. `signal` (an AbortSignal) stops the job at its next step.
 */
async function withHost({ store, onProgress, creds, registryCa, threads, host: given, signal } = {}, job, { writes = false } = {}) {
  const { runAbortable } = await shared();
  if (given) return runAbortable(given, signal, job);
  signal?.throwIfAborted();
  const release = writes ? await acquireStoreLock(store ?? defaultStoreDir()) : null;
  let host;
  try {
    host = createNodeHost({ store, onProgress, creds, registryCa, threads });
    return await runAbortable(host, signal, job);
  } finally {
    host?.dispose();
    release?.();
  }
}

module.exports = { exportImage, images, push, storeVerify, storeGc, createNodeHost, hostPlatform };
