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

/**
 * Export a root filesystem to every output. Resolves to buildx's result metadata
 * (`containerimage.digest`, `containerimage.config.digest`, `containerimage.descriptor`, …).
 */
async function exportImage(options) {
  const { rootfs, result, layers = [], nodeApp, owner, exclude = [], outputs = [], tags = [], push = false, load = false, strict = false, attestations = [], allow = [], platform, base, baseInsecure = false, config } = options ?? {};
  const onWarning = options?.onWarning ?? ((message) => process.stderr.write(`warning: ${message}\n`));
  const request = {
    rootfs,
    result,
    layers,
    nodeApp,
    owner,
    excludes: exclude,
    outputs,
    tags,
    push,
    load,
    strict,
    attestations,
    allow,
    cwd: process.cwd(),
    platform,
    base,
    baseInsecure,
    hostPlatform: hostPlatform(),
    sourceDateEpoch: process.env.SOURCE_DATE_EPOCH,
    now: Math.floor(Date.now() / 1000),
    config: config ?? {},
  };
  const response = JSON.parse(await withHost(options, (host) => core.run(host, JSON.stringify(request)), WRITES_STORE));
  response.warnings.forEach((w) => onWarning(w));
  return response.metadata;
}

/** Push an image from the local store: resolves to { 'containerimage.digest', 'image.name' }. */
async function push(options) {
  const { name, insecure = false, byDigest = false } = options ?? {};
  const request = JSON.stringify({ name, insecure, byDigest });
  return JSON.parse(await withHost(options, (host) => core.push(host, request)));
}

/** The images in the local store: [{ name, digest, mediaType, size }], sorted by name. */
async function images(options) {
  return JSON.parse(await withHost({ store: options?.store }, (host) => core.images(host)));
}

/** Check the local store: resolves to { blobs, bytes, images, problems } (problems: [] when whole). */
async function storeVerify(options) {
  return JSON.parse(await withHost({ store: options?.store }, (host) => core.storeVerify(host)));
}

/** Remove the blobs no stored image reaches: resolves to { images, kept, removed, freed }. */
async function storeGc(options) {
  return JSON.parse(await withHost({ store: options?.store }, (host) => core.storeGc(host), WRITES_STORE));
}

const WRITES_STORE = { writes: true };

/**
 * Run `job` with a Node host built from the host options, and clean up after it whatever happens.
 * A job that writes to the store (export, gc) holds the store's lock meanwhile, as in the native CLI.
 */
async function withHost({ store, onProgress, creds, registryCa, threads } = {}, job, { writes = false } = {}) {
  const release = writes ? await acquireStoreLock(store ?? defaultStoreDir()) : null;
  let host;
  try {
    host = createNodeHost({ store, onProgress, creds, registryCa, threads });
    return await job(host);
  } finally {
    host?.dispose();
    release?.();
  }
}

module.exports = { exportImage, images, push, storeVerify, storeGc, createNodeHost, hostPlatform };
