'use strict';
// The wasm-bindgen glue (src/bindings/js.rs) against hosts that misbehave: every bad answer is an
// error naming the method and field, never a panic; thrown errors keep their kind.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const core = require('../wasm/outport.js');
const { createNodeHost, hostPlatform } = require('..');

const example = path.join(__dirname, '..', '..', 'examples', 'rootfs');

/** Run an export with the Node host, some of its methods replaced by `patch(original)`. */
async function runWith(patch) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-glue-'));
  const host = createNodeHost({ store: path.join(work, 'store') });
  Object.assign(host, patch({ ...host }));
  const request = { rootfs: example, outputs: [`type=oci,dest=${work}/o.tar`], hostPlatform: hostPlatform(), now: 0 };
  try {
    return JSON.parse(await core.run(host, JSON.stringify(request)));
  } finally {
    host.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const rejectsWith = (patch, kind, message) =>
  assert.rejects(runWith(patch), (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    return true;
  });

test('answers may be Promises, numbers or BigInts', async () => {
  const plain = await runWith(() => ({}));
  const asPromises = await runWith((h) => Object.fromEntries(Object.entries(h).map(([k, f]) => [k, async (...a) => f(...a)])));
  const asNumbers = await runWith((h) => ({
    sourceReadDir: (p) => h.sourceReadDir(p).map((e) => ({ ...e, size: Number(e.size), device: Number(e.device), inode: Number(e.inode), mtime: Number(e.mtime), nlink: Number(e.nlink) })),
  }));
  assert.deepEqual(asPromises.metadata, plain.metadata);
  assert.deepEqual(asNumbers.metadata, plain.metadata);
});

test('malformed answers name the method and field', async () => {
  const stat = (change) => (h) => ({ sourceStat: (p) => ({ ...h.sourceStat(p), ...change }) });
  await rejectsWith(stat({ mode: -1 }), 'internal', /^host sourceStat: mode is not a whole number in range$/);
  await rejectsWith(stat({ uid: 2 ** 32 }), 'internal', /sourceStat: uid /);
  await rejectsWith(stat({ mtime: 1.5 }), 'internal', /sourceStat: mtime /);
  await rejectsWith(stat({ inode: 2n ** 64n }), 'internal', /sourceStat: inode /);
  await rejectsWith(stat({ linkTarget: 'x' }), 'internal', /sourceStat: linkTarget is not a Uint8Array/);
  await rejectsWith(stat({ kind: 'door' }), 'internal', /sourceStat: unknown entry kind/);
  await rejectsWith(() => ({ sourceStat: () => null }), 'internal', /sourceStat: the answer has no kind/);
  await rejectsWith(() => ({ sourceReadDir: () => 'x' }), 'internal', /sourceReadDir did not return an array/);
  await rejectsWith(() => ({ sourceRead: () => [1] }), 'internal', /sourceRead: result is not a Uint8Array/);
  await rejectsWith(() => ({ outputOpen: () => 'h' }), 'internal', /outputOpen: handle /);
  await rejectsWith(() => ({ blobCreate: undefined }), 'internal', /no method blobCreate/);
});

test('thrown errors keep their kind; anything else is internal', async () => {
  const throwing = (value) => () => ({
    sourceStat: () => {
      throw value;
    },
  });
  await rejectsWith(throwing({ kind: 'auth', message: 'denied' }), 'auth', /^denied$/);
  await rejectsWith(throwing({ kind: 'nonsense', message: 'odd' }), 'internal', /^odd$/);
  await rejectsWith(throwing(new TypeError('bug')), 'internal', /^host sourceStat: bug$/);
  await rejectsWith(throwing('boom'), 'internal', /^host sourceStat failed: boom$/);
  await rejectsWith(() => ({ sourceStat: () => Promise.reject(Object.assign(new Error('gone'), { kind: 'source' })) }), 'source', /^gone$/);
});

test('a failing progress callback does not fail the export', async () => {
  const result = await runWith(() => ({
    progress: () => {
      throw new Error('ignored');
    },
  }));
  assert.match(result.metadata['containerimage.digest'], /^sha256:/);
});
