// The npm side of what a newcomer trips over (the CLI's: host/tests/newcomer.rs): an output without
// dest must not write into the script's stdout, app layers survive `npm ci`, buildx habits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportImage } from '../lib/index.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'outport.js');
const rootfs = path.join(here, '..', '..', 'examples', 'rootfs');
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'outport-newcomer-'));

test('npm: a tarball output without dest is refused instead of filling stdout', async () => {
  const store = path.join(tempDir(), 'store');
  for (const output of ['type=oci', { type: 'tar' }]) {
    await assert.rejects(exportImage({ rootfs, store, outputs: [output] }), /without dest would write the tarball to this process's stdout/);
  }
});

test('npm: app layers stay the same after a reinstall, unless keepMtimes', async () => {
  const work = tempDir();
  const app = path.join(work, 'app');
  const install = () => {
    fs.rmSync(path.join(app, 'node_modules'), { recursive: true, force: true });
    fs.mkdirSync(path.join(app, 'node_modules', 'dep'), { recursive: true });
    fs.writeFileSync(path.join(app, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","scripts":{"start":"node ."}}');
  };
  install();
  const store = path.join(work, 'store');
  const run = (keepMtimes) => exportImage({ nodeApp: app, store, keepMtimes, sourceDateEpoch: 1700000000, onWarning: () => {}, outputs: ['type=cacheonly'] });
  const first = await run(false);
  const kept = await run(true);
  await new Promise((r) => setTimeout(r, 1100));
  install();
  assert.equal((await run(false))['containerimage.digest'], first['containerimage.digest']);
  assert.notEqual((await run(true))['containerimage.digest'], kept['containerimage.digest']);
});

test('npm CLI: buildx build flags get one line', () => {
  const out = spawnSync(process.execPath, [bin, 'export', rootfs, '--build-arg', 'A=1'], { encoding: 'utf8' });
  assert.equal(out.status, 2);
  assert.equal(out.stderr.trim().split('\n').length, 1, out.stderr);
  assert.match(out.stderr, /--build-arg is a docker buildx build flag/);
});

test('npm: remove forgets stored names so storeGc can reclaim their blobs', async () => {
  const { remove, images, storeGc } = await import('../lib/index.mjs');
  const store = path.join(tempDir(), 'store');
  await exportImage({ rootfs, store, tags: ['gone:1', 'kept:1'] });
  await assert.rejects(remove({ store, names: ['gone:1', 'never:1'] }), /no image named docker\.io\/library\/never:1/);
  assert.equal((await images({ store })).length, 2, 'nothing removed when one name is missing');
  assert.deepEqual(await remove({ store, names: ['gone:1'] }), { removed: ['docker.io/library/gone:1'] });
  assert.deepEqual((await images({ store })).map((i) => i.name), ['docker.io/library/kept:1']);
  await remove({ store, names: ['docker.io/library/kept:1'] });
  const gc = await storeGc({ store });
  assert.ok(gc.removed > 0 && gc.kept === 0, JSON.stringify(gc));
});
