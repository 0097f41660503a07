// The browser build (wasm-bindgen --target web, lib/browser.mjs) inside headless Chromium (Debian's
// chromium, driven by playwright-core): an OCI tarball exported from in-memory files, handed back as
// bytes, must equal what the native CLI writes for the same tree on disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTree, memoryFiles, SAMPLE } from './support/trees.mjs';
import { startChromium } from './support/chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = process.env.OUTPORT_BIN ?? path.join(root, 'target', 'release', 'outport');
const EPOCH = '1700000000';

let chromium;

before(async () => {
  chromium = await startChromium();
});

after(async () => {
  await chromium?.close();
});

/** Export the sample tree inside the page; resolves to the tarball's bytes and the metadata. */
async function exportInBrowser(page, files, compression) {
  return page.evaluate(
    async ({ files, compression, epoch }) => {
      const outport = await import('/npm/lib/browser.mjs');
      // Uint8Arrays do not cross page.evaluate as such: rebuild them.
      for (const spec of Object.values(files)) if (Array.isArray(spec.data)) spec.data = new Uint8Array(spec.data);
      const host = outport.createMemoryHost({ files });
      const events = [];
      host.progress = (event) => events.push(event.phase);
      const meta = await outport.exportImage({ host, rootfs: '/src', sourceDateEpoch: epoch, outputs: [{ type: 'oci', dest: '/out/image.tar', compression }] });
      return { bytes: Array.from(host.readOutput('/out/image.tar')), digest: meta['containerimage.digest'], events: events.length };
    },
    { files, compression, epoch: EPOCH },
  );
}

test('Chromium exports an OCI tarball from in-memory files, byte-identical to the native CLI', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-browser-'));
  const rootfs = writeTree(path.join(work, 'rootfs'));
  const files = memoryFiles('/src');
  for (const spec of Object.values(files)) if (spec.data instanceof Uint8Array) spec.data = Array.from(spec.data);
  const page = await chromium.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  for (const compression of ['gzip', 'zstd', 'estargz', 'uncompressed']) {
    const result = await exportInBrowser(page, structuredClone(files), compression);
    const cliTar = path.join(work, `cli-${compression}.tar`);
    const run = spawnSync(cli, ['export', rootfs, '--output', `type=oci,dest=${cliTar},compression=${compression}`, '--progress', 'quiet'], {
      env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, 'store') },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(result.events > 0, 'progress events reach the page');
    assert.deepEqual(Buffer.from(result.bytes), fs.readFileSync(cliTar), `${compression}: browser and CLI tarballs differ`);
  }
  // The bytes are a real image: skopeo reads the browser's tarball.
  const browserTar = path.join(work, 'browser.tar');
  fs.writeFileSync(browserTar, Buffer.from((await exportInBrowser(page, structuredClone(files), 'gzip')).bytes));
  const inspect = spawnSync('skopeo', ['inspect', `oci-archive:${browserTar}`], { encoding: 'utf8' });
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.equal(JSON.parse(inspect.stdout).Layers.length, 1);
  assert.deepEqual(errors, []);
  assert.ok(Object.keys(SAMPLE).length > 0);
});

test('Chromium: bad input is a clear error, not a crash', async () => {
  const page = await chromium.newPage();
  const message = await page.evaluate(async () => {
    const outport = await import('/npm/lib/browser.mjs');
    const host = outport.createMemoryHost({ files: { '/src/a': 'a' } });
    try {
      await outport.exportImage({ host, rootfs: '/src', outputs: ['type=oci,dest=/o.tar,compression=brotli'] });
      return 'no error';
    } catch (e) {
      return `${e.kind}: ${e.message}`;
    }
  });
  assert.match(message, /^invalid-option: .*brotli/);
});
