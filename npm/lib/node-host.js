'use strict';
// The Node implementation of the core's host interface (see wit/outport.wit): node:fs for the source
// tree, the content store and outputs; progress goes to a callback. Synchronous fs calls: the core
// awaits each answer anyway, and sync calls avoid a Promise per 1 MiB chunk.
const crypto = require('node:crypto');
const { CompressPool, defaultThreads } = require('./compress-pool');
const { hostError } = require('./errors');
const { Source } = require('./source');
const { Store, defaultStoreDir } = require('./store');
const { Outputs, mkdir, readWhole, identity } = require('./output');
const local = require('./local');
const { Transport } = require('./http');
const { Engines } = require('./engine');
const { createCredentials, dockerConfig, credentialHelper } = require('./credentials');

/**
 * `creds` ('USER:SECRET' or { username, password }) log in to the registry pushed to; `registryCa` is
 * a PEM file trusted for registries' TLS besides the system roots; `assetDir` holds the core and
 * the compression threads' script when they are not in the package (a bundled program).
 */
function createNodeHost({ store, onProgress, creds, baseCreds, registryCa, threads, assetDir } = {}) {
  const credentials = createCredentials(creds, baseCreds);
  const compression = new CompressPool(threads ?? defaultThreads(), assetDir);
  const transport = new Transport({ registryCa });
  const source = new Source();
  const blobs = new Store(store ?? defaultStoreDir());
  const outputs = new Outputs();
  const engines = new Engines();
  // sha256 of layer streams, by node:crypto (native; wasm has no SHA instructions).
  const hashes = new Map();
  let nextHash = 0;
  const host = {
    sourceStat: (p) => source.stat(p),
    sourceReadDir: (p) => source.readDir(p),
    sourceOpen: (p) => source.open(p),
    sourceRead: (h, max) => source.read(h, max),
    sourceClose: (h) => source.close(h),
    blobSize: (d) => blobs.size(d),
    blobCreate: () => blobs.create(),
    blobWrite: (h, data) => blobs.write(h, data),
    blobCommit: (h, d) => blobs.commit(h, d),
    blobAbort: (h) => blobs.abort(h),
    blobRead: (d, offset, max) => blobs.read(d, offset, max),
    blobDigest: (d) => blobs.digest(d),
    blobList: () => blobs.list(),
    blobRemove: (d) => blobs.remove(d),
    cacheRead: (key) => blobs.readCache(key),
    cacheWrite: (key, data) => blobs.writeCache(key, data),
    storeIndexRead: () => blobs.readIndex(),
    storeIndexWrite: (data) => blobs.writeIndex(data),
    storeUnpackDir: (d) => blobs.unpackDir(d),
    outputOpen: (p) => outputs.openFile(p),
    outputWrite: (h, data) => outputs.write(h, data),
    outputWriteBlob: (h, d) => outputs.writeBlob(h, blobs, d),
    outputPlaceBlob: (p, d) => outputs.placeBlob(p, blobs, d),
    outputCommit: (h) => outputs.commit(h),
    outputAbort: (h) => outputs.abort(h),
    outputMkdir: (p) => mkdir(p),
    outputRead: (p) => readWhole(p),
    outputCreateDir: (p) => local.createDir(p),
    outputSymlink: (p, target) => local.symlink(p, target),
    outputHardlink: (p, target) => local.hardlink(p, target),
    outputListDir: (p) => local.listDir(p),
    outputRemove: (p) => local.remove(p),
    outputSetAttributes: (p, mode, uid, gid, mtime) => local.setAttributes(p, mode, uid, gid, mtime),
    engineConnect: (scheme, address, certDir) => engines.connect(scheme, address, certDir),
    engineWrite: (h, data) => engines.get(h).write(data),
    engineRead: (h, max) => engines.get(h).read(max),
    engineClose: (h) => engines.close(h),
    storeTemporaries: (remove) => blobs.temporaries(remove),
    outputStageDir: (p) => outputs.stageDir(p),
    outputMove: (from, to, intoLink) => outputs.move(from, to, intoLink),
    outputIdentity: (p) => identity(p),
    httpSend: (request, maxBody) => transport.send(request, maxBody, blobs),
    credentials: (registry, forPush) => credentials(registry, forPush),
    dockerConfig: () => dockerConfig(),
    credentialHelper: (name, server) => credentialHelper(name, server),
    hashStart: () => {
      hashes.set(++nextHash, crypto.createHash('sha256'));
      return nextHash;
    },
    // `data` is a view of the core's memory: hashed before returning.
    hashUpdate: (h, data) => void hashes.get(h)?.update(data),
    hashFinish: (h) => {
      const hash = hashes.get(h);
      if (!hash) throw hostError('internal', `no hash ${h}`);
      hashes.delete(h);
      return `sha256:${hash.digest('hex')}`;
    },
    compressThreads: () => compression.threads,
    compressStart: (piece) => compression.start(piece),
    compressWait: (handle) => compression.wait(handle),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    progress: (event) => onProgress?.(event),
  };
  // Not part of the interface: lets the caller clean up after a failed run.
  Object.defineProperty(host, 'dispose', {
    value: () => {
      outputs.removeTemporaries();
      engines.closeAll();
      transport.close();
      compression.close();
    },
  });
  return host;
}

module.exports = { createNodeHost };
