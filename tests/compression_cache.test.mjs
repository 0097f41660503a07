// The npm host keeps the compression cache as the native CLI does (host/tests/compression_cache.rs):
// a second export of an unchanged tree reuses the stored layer blob instead of writing it again, and
// both hosts read each other's records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..');
const rootfs = path.join(repo, 'examples', 'rootfs');
const nativeBin = process.env.OUTPORT_BIN ?? path.join(repo, 'target', 'release', 'outport');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));

function layerDigest(layout) {
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(layout, 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'));
  return manifest.layers[0].digest;
}

test('npm: an unchanged layer is taken from the compression cache, also across hosts', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-cache-'));
  const store = path.join(work, 'store');
  const spec = (name) => `type=oci,dest=${path.join(work, name)},tar=false,compression=zstd`;
  await exportImage({ rootfs, outputs: [spec('one')], store });
  const layer = layerDigest(path.join(work, 'one'));
  const blob = path.join(store, 'blobs', ...layer.split(':'));
  const inode = fs.statSync(blob).ino;
  // One record of a compressed tar (beside tree-shape and files records).
  const tarRecords = fs.readdirSync(path.join(store, 'cache')).filter((k) => 'blob' in JSON.parse(fs.readFileSync(path.join(store, 'cache', k))));
  assert.equal(tarRecords.length, 1);

  await exportImage({ rootfs, outputs: [spec('two')], store });
  assert.equal(layerDigest(path.join(work, 'two')), layer);
  assert.equal(fs.statSync(blob).ino, inode, 'reused, not written again');

  const cli = spawnSync(nativeBin, ['export', rootfs, '--store', store, '-o', spec('three')], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(layerDigest(path.join(work, 'three')), layer);
  assert.equal(fs.statSync(blob).ino, inode, 'the native CLI reuses the record the npm host wrote');
});

/** The Node host, counting the source files it opens. */
function countingHost(store) {
  const { createNodeHost } = createRequire(import.meta.url)(path.join(repo, 'npm'));
  const host = createNodeHost({ store, threads: 0 });
  const counted = { ...host, opened: 0 };
  counted.sourceOpen = (p) => {
    counted.opened++;
    return host.sourceOpen(p);
  };
  counted.dispose = host.dispose;
  return counted;
}

test('an unchanged tree is not read at all; any write to a file is noticed', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-cache-files-'));
  const tree = path.join(work, 'tree');
  fs.mkdirSync(tree);
  const files = ['a.txt', 'b.txt', 'c.bin'];
  for (const name of files) fs.writeFileSync(path.join(tree, name), `${name}\n`.repeat(1000));
  const mtime = new Date('2024-01-01T00:00:00Z');
  for (const name of files) fs.utimesSync(path.join(tree, name), mtime, mtime);
  // Files changed within 2 seconds of an export (counted from its whole second) are not trusted to
  // show their next write (racy ctime): let these settle.
  await new Promise((resolve) => setTimeout(resolve, 3100));
  const store = path.join(work, 'store');
  const run = async (name) => {
    const host = countingHost(store);
    try {
      const meta = await exportImage({ host, rootfs: tree, sourceDateEpoch: '1700000000', outputs: [`type=oci,dest=${path.join(work, name)},tar=false`] });
      return { digest: meta['containerimage.digest'], opened: host.opened, layer: layerDigest(path.join(work, name)) };
    } finally {
      host.dispose();
    }
  };
  const first = await run('first');
  assert.equal(first.opened, files.length, 'a new tree is read once');
  const second = await run('second');
  assert.deepEqual(second, { ...first, opened: 0 }, 'unchanged: the same image, no file opened');

  // Other bytes of the same size, the old mtime: the headers are as they were, the ctime is not.
  const changed = path.join(tree, 'b.txt');
  fs.writeFileSync(changed, 'B.TXT\n'.repeat(1000));
  fs.utimesSync(changed, mtime, mtime);
  const third = await run('third');
  assert.notEqual(third.layer, first.layer, 'the new content makes a new layer');
  assert.ok(third.opened >= files.length, 'the tree is read again');
  const blob = path.join(work, 'third', 'blobs', ...third.layer.split(':'));
  const content = spawnSync('sh', ['-c', `gzip -dc ${blob} | tar -xO b.txt`], { encoding: 'utf8' }).stdout;
  assert.equal(content, 'B.TXT\n'.repeat(1000));

  // Right after that write the tree is "racy": it is read again rather than trusted.
  const fourth = await run('fourth');
  assert.equal(fourth.layer, third.layer);
  assert.ok(fourth.opened > 0, 'files changed within the last seconds are read');
});
