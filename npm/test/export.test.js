'use strict';
// The npm package on its own: API and bin, layouts valid, output deterministic, errors clean.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { exportImage } = require('..');

const example = path.join(__dirname, '..', '..', 'examples', 'rootfs');
const bin = path.join(__dirname, '..', 'bin', 'outport.js');

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'outport-npm-'));
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every blob under a layout directory must hash to its own name; index.json must parse. */
function assertValidLayout(dir) {
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  assert.equal(index.schemaVersion, 2);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'oci-layout'), 'utf8')).imageLayoutVersion, '1.0.0');
  const blobs = path.join(dir, 'blobs', 'sha256');
  for (const name of fs.readdirSync(blobs)) assert.equal(sha256(path.join(blobs, name)), name);
  return index;
}

test('exportImage writes a tarball and a directory layout', async () => {
  const work = tempDir();
  const store = path.join(work, 'store');
  const meta = await exportImage({ rootfs: example, outputs: [`type=oci,dest=${work}/o.tar`, `type=oci,dest=${work}/dir,tar=false`], store });
  assert.match(meta['containerimage.digest'], /^sha256:[0-9a-f]{64}$/);
  assert.match(meta['containerimage.config.digest'], /^sha256:[0-9a-f]{64}$/);
  const index = assertValidLayout(path.join(work, 'dir'));
  assert.equal(index.manifests[0].digest, meta['containerimage.digest']);
  const unpacked = path.join(work, 'unpacked');
  fs.mkdirSync(unpacked);
  assert.equal(spawnSync('tar', ['-xf', `${work}/o.tar`, '-C', unpacked]).status, 0);
  assertValidLayout(unpacked);
});

test('same input twice gives identical bytes', async () => {
  const work = tempDir();
  process.env.SOURCE_DATE_EPOCH = '1700000000';
  try {
    for (const name of ['a', 'b']) {
      await exportImage({ rootfs: example, outputs: [`type=oci,dest=${work}/${name}.tar`], store: path.join(work, `store-${name}`) });
    }
  } finally {
    delete process.env.SOURCE_DATE_EPOCH;
  }
  assert.ok(fs.readFileSync(`${work}/a.tar`).equals(fs.readFileSync(`${work}/b.tar`)));
});

test('errors carry a kind and leave nothing behind', async () => {
  const work = tempDir();
  const dest = path.join(work, 'out.tar');
  await assert.rejects(exportImage({ rootfs: path.join(work, 'missing'), outputs: [`type=oci,dest=${dest}`], store: path.join(work, 's') }), (err) => {
    assert.equal(err.kind, 'source');
    assert.match(err.message, /missing: no such file or directory/);
    return true;
  });
  await assert.rejects(exportImage({ rootfs: example, outputs: [`type=oci,dest=${work}/nope/out.tar`], store: path.join(work, 's') }), (err) => {
    assert.equal(err.kind, 'output');
    assert.match(err.message, /nope\/out\.tar: parent directory .*nope does not exist/);
    return true;
  });
  await assert.rejects(exportImage({ rootfs: example, outputs: ['type=bogus'], store: path.join(work, 's') }), (err) => err.kind === 'invalid-option');
  assert.deepEqual(fs.readdirSync(work).filter((n) => n !== 's'), []);
});

test('the bin: metadata on stdout, one-line errors, exit codes', () => {
  const work = tempDir();
  const env = { ...process.env, OUTPORT_STORE: path.join(work, 'store') };
  const ok = spawnSync(process.execPath, [bin, 'export', example, '-o', `type=oci,dest=${work}/o.tar`, '--metadata-file', `${work}/m.json`], { env, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), JSON.parse(fs.readFileSync(`${work}/m.json`, 'utf8')));

  const bad = spawnSync(process.execPath, [bin, 'export', path.join(work, 'missing'), '-o', `type=oci,dest=${work}/x.tar`], { env, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: .*missing: no such file or directory\n$/);
  assert.ok(!fs.existsSync(`${work}/x.tar`));

  const usage = spawnSync(process.execPath, [bin, 'export', '--no-such-flag'], { env, encoding: 'utf8' });
  assert.equal(usage.status, 2);
});

test('images() lists what exportImage stored under its tags', async () => {
  const work = tempDir();
  const store = path.join(work, 'store');
  const { images } = require('..');
  const meta = await exportImage({ rootfs: example, tags: ['app:1'], store });
  assert.equal(meta['image.name'], 'app:1');
  const rows = await images({ store });
  assert.deepEqual(rows.map((r) => [r.name, r.digest]), [['docker.io/library/app:1', meta['containerimage.digest']]]);
});
