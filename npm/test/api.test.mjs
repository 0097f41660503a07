// The npm API as an ES module: typed output objects, AbortSignal, pluggable hosts (the in-memory one
// gives the same bytes as the native CLI and the Node host), and the TypeScript declarations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportImage, createMemoryHost, createNodeHost, outputString, images } from '../lib/index.mjs';
import { writeTree, memoryFiles } from '../../tests/support/trees.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const cli = process.env.OUTPORT_BIN ?? path.join(root, 'target', 'release', 'outport');
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'outport-api-'));
const EPOCH = '1700000000';

test('output objects are the same outputs as their strings', async () => {
  assert.equal(outputString({ type: 'oci', dest: 'out.tar', compression: 'zstd', 'compression-level': 9 }), 'type=oci,dest=out.tar,compression=zstd,compression-level=9');
  assert.equal(outputString({ type: 'image', name: ['r/a:1', 'r/a:2'], push: false }), 'type=image,"name=r/a:1,r/a:2",push=false');
  assert.throws(() => outputString({ dest: 'x' }), /with a type/);
  const work = tempDir();
  const rootfs = writeTree(path.join(work, 'rootfs'));
  const store = path.join(work, 'store');
  const typed = await exportImage({ rootfs, store, sourceDateEpoch: EPOCH, outputs: [{ type: 'oci', dest: path.join(work, 'typed.tar'), compression: 'zstd' }] });
  const plain = await exportImage({ rootfs, store, sourceDateEpoch: EPOCH, outputs: [`type=oci,dest=${path.join(work, 'plain.tar')},compression=zstd`] });
  assert.equal(typed['containerimage.digest'], plain['containerimage.digest']);
  assert.deepEqual(fs.readFileSync(path.join(work, 'typed.tar')), fs.readFileSync(path.join(work, 'plain.tar')));
});

test('the in-memory host gives the bytes the native CLI and the Node host give', async () => {
  const work = tempDir();
  const rootfs = writeTree(path.join(work, 'rootfs'));
  for (const compression of ['gzip', 'zstd', 'estargz', 'uncompressed']) {
    const cliTar = path.join(work, `cli-${compression}.tar`);
    const run = spawnSync(cli, ['export', rootfs, '--output', `type=oci,dest=${cliTar},compression=${compression}`, '--progress', 'quiet'], {
      env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, 'cli-store') },
    });
    assert.equal(run.status, 0, run.stderr.toString());

    const host = createMemoryHost({ files: memoryFiles('/src') });
    const meta = await exportImage({ host, rootfs: '/src', sourceDateEpoch: EPOCH, outputs: [{ type: 'oci', dest: '/out/image.tar', compression }] });
    const bytes = host.readOutput('/out/image.tar');
    assert.ok(bytes, 'the output is handed back');
    assert.deepEqual(Buffer.from(bytes), fs.readFileSync(cliTar), `${compression}: memory host and CLI differ`);
    assert.ok(host.blobs.has(meta['containerimage.digest']), 'the store holds the manifest');
    assert.deepEqual(await images({ host }), [], 'nothing named in the store');
  }
});

test("the in-memory host's dockerConfig gives the core the login (auths, read by the core)", async () => {
  const authorizations = [];
  // A registry that asks for Basic auth, then refuses what it gets (the header is what is checked).
  const fetch = async (url, init) => {
    const authorization = new Headers(init.headers).get('authorization');
    if (!authorization) return new Response('', { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="test"' } });
    authorizations.push(authorization);
    return new Response('{"errors":[{"code":"DENIED"}]}', { status: 403 });
  };
  const auth = Buffer.from('me:s3cret').toString('base64');
  const outputs = ['type=registry,name=reg.example/app:1'];
  const host = createMemoryHost({ files: memoryFiles('/src'), fetch, dockerConfig: { auths: { 'https://reg.example': { auth } } } });
  await assert.rejects(exportImage({ host, rootfs: '/src', sourceDateEpoch: EPOCH, outputs }), (err) => err.kind === 'auth');
  assert.ok(authorizations.length > 0 && authorizations.every((a) => a === `Basic ${auth}`), JSON.stringify(authorizations));
  // A config.json the core cannot read is an error naming it.
  const broken = createMemoryHost({ files: memoryFiles('/src'), fetch, dockerConfig: '{"auths": ' });
  await assert.rejects(exportImage({ host: broken, rootfs: '/src', sourceDateEpoch: EPOCH, outputs }), (err) => {
    assert.equal(err.kind, 'auth');
    assert.match(err.message, /^config\.json: not valid JSON \(/);
    return true;
  });
});

test('a custom host: the Node host with the source tree swapped for an in-memory one', async () => {
  const work = tempDir();
  const memory = createMemoryHost({ files: memoryFiles('/virtual') });
  const node = createNodeHost({ store: path.join(work, 'store'), threads: 0 });
  const sourceMethods = ['sourceStat', 'sourceReadDir', 'sourceOpen', 'sourceRead', 'sourceClose'];
  const host = { ...node, ...Object.fromEntries(sourceMethods.map((m) => [m, memory[m]])) };
  const dest = path.join(work, 'virtual.tar');
  try {
    await exportImage({ host, rootfs: '/virtual', sourceDateEpoch: EPOCH, outputs: [`type=oci,dest=${dest}`] });
  } finally {
    node.dispose();
  }
  const disk = await exportImage({ rootfs: writeTree(path.join(work, 'rootfs')), store: path.join(work, 'store2'), sourceDateEpoch: EPOCH, outputs: [`type=oci,dest=${path.join(work, 'disk.tar')}`] });
  assert.deepEqual(fs.readFileSync(dest), fs.readFileSync(path.join(work, 'disk.tar')));
  assert.match(disk['containerimage.digest'], /^sha256:/);
});

test('an AbortSignal stops an export, leaves no output and rejects with its reason', async () => {
  const work = tempDir();
  const rootfs = path.join(work, 'rootfs');
  fs.mkdirSync(rootfs);
  for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(rootfs, `f${i}`), Buffer.alloc(512 * 1024, i));
  const dest = path.join(work, 'out.tar');
  const controller = new AbortController();
  let events = 0;
  const started = exportImage({
    rootfs,
    store: path.join(work, 'store'),
    outputs: [`type=oci,dest=${dest}`],
    onProgress: () => {
      if (++events === 1) controller.abort(new Error('stop here'));
    },
    signal: controller.signal,
  });
  await assert.rejects(started, /stop here/);
  assert.ok(events >= 1);
  assert.deepEqual(fs.readdirSync(work).filter((n) => n.startsWith('out')), [], 'no output, not even a temporary one');
  // The store stays whole and usable.
  const verify = spawnSync(cli, ['store', 'verify'], { env: { ...process.env, OUTPORT_STORE: path.join(work, 'store') } });
  assert.equal(verify.status, 0, verify.stdout.toString() + verify.stderr.toString());
  const again = await exportImage({ rootfs, store: path.join(work, 'store'), outputs: [`type=oci,dest=${dest}`] });
  assert.match(again['containerimage.digest'], /^sha256:/);

  // Already aborted: nothing starts.
  const aborted = AbortSignal.abort(new Error('too late'));
  await assert.rejects(exportImage({ rootfs, outputs: [`type=oci,dest=${path.join(work, 'never.tar')}`], signal: aborted }), /too late/);
  assert.equal(fs.existsSync(path.join(work, 'never.tar')), false);
});

test('the TypeScript declarations check against a usage file (tsc --noEmit)', () => {
  const tsc = path.join(root, 'npm', 'node_modules', '.bin', 'tsc');
  assert.ok(fs.existsSync(tsc), 'run npm install in npm/ (scripts/setup.sh does)');
  const run = spawnSync(tsc, ['--noEmit', '-p', path.join(here, 'types')], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
