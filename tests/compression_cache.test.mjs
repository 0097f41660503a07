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
  // The compressed tar's record and its tree-shape record.
  assert.equal(fs.readdirSync(path.join(store, 'cache')).length, 2);

  await exportImage({ rootfs, outputs: [spec('two')], store });
  assert.equal(layerDigest(path.join(work, 'two')), layer);
  assert.equal(fs.statSync(blob).ino, inode, 'reused, not written again');

  const cli = spawnSync(nativeBin, ['export', rootfs, '--store', store, '-o', spec('three')], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(layerDigest(path.join(work, 'three')), layer);
  assert.equal(fs.statSync(blob).ino, inode, 'the native CLI reuses the record the npm host wrote');
});
