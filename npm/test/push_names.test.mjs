// `push` of several stored names, by the API (`push({ names })`) and by the bin (`outport push NAME…`),
// against a real registry (Distribution, plain HTTP), read back with skopeo: every name is pushed
// whatever became of the ones before it, and the ones that failed are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportImage, push } from 'outport';
import { startRegistry } from '../../tests/support/registry.mjs';

const example = path.join(import.meta.dirname, '..', '..', 'examples', 'rootfs');
const bin = path.join(import.meta.dirname, '..', 'bin', 'outport.js');
const inspect = (name) => JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`], { encoding: 'utf8' }));
/** The pretty-printed JSON objects the bin writes, one after the other. */
const objects = (text) => (text.trim() ? text.trim().split(/\n(?=\{)/).map((o) => JSON.parse(o)) : []);

test('push({ names }) and `outport push NAME…` push every stored name and name the ones that failed', async () => {
  const registry = await startRegistry();
  try {
    const store = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-push-names-'));
    const stored = async (name, labels = []) =>
      (await exportImage({ rootfs: example, store, tags: [name], config: { labels }, onWarning: () => {} }))['containerimage.digest'];
    const [first, second] = [`${registry.addr}/many:1`, `${registry.addr}/other:2`];
    const digests = [await stored(first), await stored(second, ['two=2'])];
    assert.notEqual(digests[0], digests[1]);

    const results = await push({ names: [first, second], store, insecure: true });
    assert.deepEqual(results, [
      { 'containerimage.digest': digests[0], 'image.name': first },
      { 'containerimage.digest': digests[1], 'image.name': second },
    ]);
    assert.equal(inspect(first).Digest, digests[0]);
    assert.equal(inspect(second).Digest, digests[1]);

    // One registry does not answer: the name after it is pushed all the same; the call rejects
    // naming the failed one, with how each fared.
    const gone = '127.0.0.1:9/gone:1';
    await stored(gone);
    const late = `${registry.addr}/late:1`;
    const lateDigest = await stored(late, ['late=1']);
    await assert.rejects(push({ names: [gone, late], store, insecure: true }), (err) => {
      assert.match(err.message, /^push: 1 of 2 images not pushed: 127\.0\.0\.1:9\/gone:1 \(push to 127\.0\.0\.1:9\/gone/);
      assert.equal(err.results.length, 2);
      assert.equal(err.results[0]['image.name'], gone);
      assert.equal(err.results[0].error.kind, 'registry');
      assert.deepEqual(err.results[1], { 'containerimage.digest': lateDigest, 'image.name': late });
      return true;
    });
    assert.equal(inspect(late).Digest, lateDigest);

    // The bin, as the native CLI: each pushed image's JSON on stdout, each failure and then which
    // were not pushed on stderr, exit status 1.
    const later = `${registry.addr}/later:1`;
    const laterDigest = await stored(later, ['later=1']);
    const run = spawnSync('node', [bin, 'push', gone, later, first, '--insecure', '--store', store], { encoding: 'utf8' });
    assert.equal(run.status, 1, run.stderr);
    assert.deepEqual(objects(run.stdout), [
      { 'containerimage.digest': laterDigest, 'image.name': later },
      { 'containerimage.digest': digests[0], 'image.name': first },
    ]);
    assert.match(run.stderr, /^error: 127\.0\.0\.1:9\/gone:1: push to 127\.0\.0\.1:9\/gone/m);
    assert.match(run.stderr, /error: 1 of 3 images not pushed: 127\.0\.0\.1:9\/gone:1\n$/);
    assert.equal(inspect(later).Digest, laterDigest);

    // A name not in the store: nothing is pushed.
    const unpushed = `${registry.addr}/unpushed:1`;
    await stored(unpushed, ['unpushed=1']);
    const missing = spawnSync('node', [bin, 'push', unpushed, `${registry.addr}/nope:1`, '--insecure', '--store', store], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no image named 127\.0\.0\.1:\d+\/nope:1 in the store .*nothing pushed/);
    assert.equal(spawnSync('skopeo', ['inspect', '--tls-verify=false', `docker://${unpushed}`]).status === 0, false);
  } finally {
    registry.close();
  }
});
