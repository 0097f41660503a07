'use strict';
// outport for Node: the same exporter core as the native CLI (compiled to wasm), with a Node host.
const core = require('../wasm/outport.js');
const { createNodeHost } = require('./node-host');

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
  const { rootfs, result, outputs = [], tags = [], push = false, load = false, strict = false, attestations = [], allow = [], platform, base, baseInsecure = false, config } = options ?? {};
  const onWarning = options?.onWarning ?? ((message) => process.stderr.write(`warning: ${message}\n`));
  const request = {
    rootfs,
    result,
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
  const response = JSON.parse(await withHost(options, (host) => core.run(host, JSON.stringify(request))));
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

/** Run `job` with a Node host built from the host options, and clean up after it whatever happens. */
async function withHost({ store, onProgress, creds, registryCa } = {}, job) {
  const host = createNodeHost({ store, onProgress, creds, registryCa });
  try {
    return await job(host);
  } finally {
    host.dispose();
  }
}

module.exports = { exportImage, images, push, createNodeHost, hostPlatform };
