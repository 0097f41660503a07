// Parallel compression: big layers are compressed in pieces on several threads (native: core
// instances on threads; Node: worker_threads) and the bytes are the same whatever the thread count,
// in both hosts, and valid for gzip -t / zstd -t.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..');
const nativeBin = process.env.OUTPORT_BIN ?? path.join(repo, 'target', 'release', 'outport');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
const EPOCH = '1445412480';

/** About 11 MiB of compressible text over a few files: several gzip and zstd pieces. */
function bigTree(work) {
  const root = path.join(work, 'root');
  fs.mkdirSync(path.join(root, 'data'), { recursive: true });
  const words = fs.readFileSync(path.join(repo, 'README.md'), 'utf8').split(/\s+/);
  for (let f = 0; f < 3; f++) {
    const lines = [];
    for (let i = 0; lines.length < 60_000; i++) lines.push(`${f} ${i} ${words[(i * 7 + f) % words.length]} ${words[(i * 13) % words.length]}`);
    fs.writeFileSync(path.join(root, 'data', `file${f}.txt`), lines.join('\n').repeat(2));
  }
  return root;
}

function layerBlob(layout) {
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(layout, 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'));
  return { digest: manifest.layers[0].digest, file: path.join(layout, 'blobs', ...manifest.layers[0].digest.split(':')) };
}

for (const compression of ['gzip', 'zstd']) {
  test(`${compression}: the same layer bytes with 0, 1 and 3 threads, in the native CLI and npm`, async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-parallel-'));
    const root = bigTree(work);
    const digests = new Map();
    for (const threads of [0, 1, 3]) {
      const dest = path.join(work, `cli-${threads}`);
      const cli = spawnSync(nativeBin, ['export', root, '--threads', String(threads), '-o', `type=oci,dest=${dest},tar=false,compression=${compression}`], {
        env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, `store-cli-${threads}`) }, encoding: 'utf8',
      });
      assert.equal(cli.status, 0, cli.stderr);
      digests.set(`cli ${threads}`, layerBlob(dest).digest);
    }
    for (const threads of [0, 2]) {
      const dest = path.join(work, `npm-${threads}`);
      await exportImage({ rootfs: root, threads, outputs: [`type=oci,dest=${dest},tar=false,compression=${compression}`], store: path.join(work, `store-npm-${threads}`) });
      digests.set(`npm ${threads}`, layerBlob(dest).digest);
    }
    assert.equal(new Set(digests.values()).size, 1, JSON.stringify(Object.fromEntries(digests)));
    const { file } = layerBlob(path.join(work, 'npm-2'));
    execFileSync(compression === 'gzip' ? 'gzip' : 'zstd', ['-t', '-q', file]);
    const listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8' });
    assert.match(listing, /data\/file2\.txt/);
  });
}
