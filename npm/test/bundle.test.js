'use strict';
// The package inside a bundle, as editor extensions ship it: a program using `require('outport')`,
// bundled by esbuild, runs from a directory holding only its bundle and the package's run-time
// files (assetFiles()), beside it or where `assetDir` says. And the CommonJS entry's in-memory host.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const esbuild = require('esbuild');
// By its name, as a user requires it (the package refers to itself through its "exports").
const outport = require('outport');

const packageDir = path.join(__dirname, '..');
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'outport-bundle-'));

/** index.json of an OCI tarball. */
function tarIndex(tarball) {
  const run = spawnSync('tar', ['-xO', 'index.json'], { input: tarball, maxBuffer: 1 << 20 });
  assert.equal(run.status, 0, String(run.stderr));
  return JSON.parse(run.stdout);
}

test("require('outport').createMemoryHost exports an image in memory, as the ES module's does", async () => {
  assert.equal(typeof outport.createMemoryHost, 'function');
  const files = { '/src/hello.txt': 'hi\n', '/src/bin/run': { data: '#!/bin/sh\n', mode: 0o755 }, '/src/link': { symlink: 'hello.txt' } };
  const exported = async (createMemoryHost) => {
    const host = createMemoryHost({ files });
    const meta = await outport.exportImage({ host, rootfs: '/src', sourceDateEpoch: 0, outputs: [{ type: 'oci', dest: '/out/image.tar' }] });
    return { meta, tarball: host.readOutput('/out/image.tar') };
  };
  const cjs = await exported(outport.createMemoryHost);
  assert.equal(tarIndex(cjs.tarball).manifests[0].digest, cjs.meta['containerimage.digest']);
  const esm = await exported((await import('outport')).createMemoryHost);
  assert.deepEqual(cjs.tarball, esm.tarball);
});

/** A program as an extension's code would use the package: the Node host and the in-memory one. */
const PROGRAM = `
const fs = require('node:fs');
const path = require('node:path');
const { exportImage, createMemoryHost } = require('outport');
(async () => {
  const [rootfs, out, assetDir] = process.argv.slice(2);
  const onWarning = () => {};
  const disk = await exportImage({ rootfs, store: path.join(out, 'store'), threads: 2, sourceDateEpoch: 0, outputs: ['type=oci,dest=' + path.join(out, 'disk.tar')], assetDir, onWarning });
  const host = createMemoryHost({ files: { '/src/a.txt': 'a\\n' } });
  const memory = await exportImage({ host, rootfs: '/src', sourceDateEpoch: 0, outputs: [{ type: 'oci', dest: '/m.tar' }], assetDir, onWarning });
  fs.writeFileSync(path.join(out, 'memory.tar'), host.readOutput('/m.tar'));
  console.log(JSON.stringify({ disk: disk['containerimage.digest'], memory: memory['containerimage.digest'] }));
})().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
`;

test('a program bundled by esbuild runs with only its bundle and the assets, beside it or in assetDir', async () => {
  const work = tempDir();
  // The program's project: its code and the package in node_modules.
  const project = path.join(work, 'project');
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  fs.symlinkSync(packageDir, path.join(project, 'node_modules', 'outport'));
  fs.writeFileSync(path.join(project, 'app.js'), PROGRAM);
  const bundle = path.join(work, 'build', 'app.js');
  const result = await esbuild.build({ entryPoints: [path.join(project, 'app.js')], outfile: bundle, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'silent' });
  assert.deepEqual(result.warnings.map((w) => w.text), [], 'esbuild bundles the package without warnings');
  // A layer of several compression pieces, so the worker threads run too.
  const rootfs = path.join(work, 'rootfs');
  fs.mkdirSync(rootfs);
  fs.writeFileSync(path.join(rootfs, 'data.bin'), crypto.randomBytes(3 << 20));
  fs.writeFileSync(path.join(rootfs, 'hello.txt'), 'hello\n');
  const expected = await outport.exportImage({ rootfs, store: path.join(work, 'store'), sourceDateEpoch: 0, outputs: [`type=oci,dest=${path.join(work, 'expected.tar')}`] });

  /** The bundle alone in a new directory, with `assets` copied into `assetsAt` (relative to it). */
  const install = (name, assetsAt, assets) => {
    const dir = path.join(work, name);
    fs.mkdirSync(path.join(dir, assetsAt), { recursive: true });
    fs.copyFileSync(bundle, path.join(dir, 'app.js'));
    for (const file of assets) fs.copyFileSync(file, path.join(dir, assetsAt, path.basename(file)));
    return dir;
  };
  const run = (dir, ...assetDir) => {
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const env = { ...process.env };
    delete env.OUTPORT_STORE;
    return { out, ...spawnSync('node', [path.join(dir, 'app.js'), rootfs, out, ...assetDir], { cwd: work, env, encoding: 'utf8' }) };
  };
  const assets = outport.assetFiles();
  assert.deepEqual(assets.map((f) => path.basename(f)).sort(), ['compress-worker.js', 'outport.js', 'outport_bg.wasm']);

  for (const [name, assetsAt, withDir] of [['beside', '.', false], ['asset-dir', 'assets', true]]) {
    const dir = install(name, assetsAt, assets);
    const ran = run(dir, ...(withDir ? [path.join(dir, assetsAt)] : []));
    assert.equal(ran.status, 0, `${name}: ${ran.stderr}`);
    const digests = JSON.parse(ran.stdout);
    assert.equal(digests.disk, expected['containerimage.digest'], `${name}: the same image as the package unbundled`);
    assert.equal(tarIndex(fs.readFileSync(path.join(ran.out, 'disk.tar'))).manifests[0].digest, digests.disk);
    assert.equal(tarIndex(fs.readFileSync(path.join(ran.out, 'memory.tar'))).manifests[0].digest, digests.memory);
  }

  // Without the assets, or without the worker script, the error says what to carry.
  for (const [name, kept, missing] of [['bare', [], 'outport.js'], ['no-worker', assets.filter((f) => !f.endsWith('compress-worker.js')), 'compress-worker.js']]) {
    const ran = run(install(name, '.', kept));
    assert.equal(ran.status, 1, `${name}: ${ran.stdout}`);
    assert.ok(ran.stderr.includes(`outport's ${missing} is not in`) && ran.stderr.includes('assetFiles()'), `${name}: ${ran.stderr}`);
  }
});
