// The determinism matrix: 20 source trees × 4 compressions, exported by the native CLI, by the npm
// package on Node (Node host, from disk) and by the browser build in headless Chromium (in-memory
// host, the same tree read into memory): every image digest must be the same across the three.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { INPUTS, buildInput, readTree } from './support/matrix.mjs';
import { startChromium } from './support/chromium.mjs';

const repo = path.resolve(import.meta.dirname, '..');
const cli = process.env.OUTPORT_BIN ?? path.join(repo, 'target', 'release', 'outport');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
const COMPRESSIONS = ['gzip', 'zstd', 'estargz', 'uncompressed'];
const EPOCH = '1700000000';

let chromium;
let page;

before(async () => {
  chromium = await startChromium();
  page = await chromium.newPage();
});

after(async () => {
  await chromium?.close();
});

function inBrowser(files) {
  return page.evaluate(
    async ({ files, compressions, epoch }) => {
      const outport = await import('/npm/lib/browser.mjs');
      for (const spec of Object.values(files)) {
        if (spec.data64 === undefined) continue;
        const binary = atob(spec.data64);
        delete spec.data64;
        spec.data = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      }
      const digests = {};
      const host = outport.createMemoryHost({ files });
      for (const compression of compressions) {
        const meta = await outport.exportImage({ host, rootfs: '/src', sourceDateEpoch: epoch, outputs: [{ type: 'oci', dest: `/out/${compression}.tar`, compression }] });
        digests[compression] = meta['containerimage.digest'];
      }
      return digests;
    },
    { files, compressions: COMPRESSIONS, epoch: EPOCH },
  );
}

test('20 inputs × 4 compressions: native CLI, Node and browser give identical digests', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-matrix-'));
  const names = Object.keys(INPUTS);
  assert.equal(names.length, 20);
  const notes = [];
  let compared = 0;
  for (const [i, name] of names.entries()) {
    const root = path.join(work, `input${i}`, 'rootfs');
    const note = buildInput(name, root);
    if (note) notes.push(`${name}: ${note}`);
    const fromBrowser = await inBrowser(readTree(root, '/src'));
    for (const compression of COMPRESSIONS) {
      const dest = path.join(work, `input${i}`, `cli-${compression}.tar`);
      const run = spawnSync(cli, ['export', root, '--output', `type=oci,dest=${dest},compression=${compression}`, '--progress', 'quiet'], {
        env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, 'cli-store') },
        encoding: 'utf8',
      });
      assert.equal(run.status, 0, `${name} ${compression}: ${run.stderr}`);
      const fromCli = JSON.parse(run.stdout)['containerimage.digest'];
      const node = await exportImage({ rootfs: root, store: path.join(work, 'node-store'), sourceDateEpoch: EPOCH, outputs: [{ type: 'oci', dest: path.join(work, `input${i}`, `node-${compression}.tar`), compression }] });
      assert.equal(node['containerimage.digest'], fromCli, `${name} ${compression}: Node differs from the CLI`);
      assert.equal(fromBrowser[compression], fromCli, `${name} ${compression}: the browser differs from the CLI`);
      compared++;
    }
  }
  console.log(`determinism matrix: ${names.length} inputs × ${COMPRESSIONS.length} compressions = ${compared} cells, each the same digest from CLI, Node and browser (${compared * 3} exports)`);
  for (const note of notes) console.log(`note: ${note}`);
  assert.equal(compared, 80);
});
