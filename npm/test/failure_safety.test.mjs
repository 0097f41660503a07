// The npm host's share of failure safety (the native CLI's is host/tests/failure_safety.rs):
// outputs inside their source, staged directory outputs, store locks that never hang, signals,
// stale temporaries, duplicate destinations, and every option checked with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportImage, storeVerify, storeGc, images, push } from '../lib/index.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'outport.js');
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'outport-safety-'));
const isRoot = process.getuid?.() === 0;
const EPOCH = '1700000000';

function source(work) {
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(src, 'etc', 'app.conf'), 'port=80\n');
  fs.writeFileSync(path.join(src, 'hello.txt'), 'hello\n');
  return src;
}

function listTree(dir) {
  const out = [];
  const walk = (d, rel) => {
    for (const name of fs.readdirSync(d).sort()) {
      const full = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const stat = fs.lstatSync(full);
      out.push(stat.isFile() ? `${r}:${fs.readFileSync(full, 'utf8')}` : r);
      if (stat.isDirectory()) walk(full, r);
    }
  };
  walk(dir, '');
  return out;
}

test('npm: outputs inside their source are left out of it, and the image is the same', async () => {
  const work = tempDir();
  const src = source(work);
  const store = path.join(work, 'store');
  const reference = await exportImage({ rootfs: src, store, sourceDateEpoch: EPOCH, outputs: [`type=oci,dest=${path.join(work, 'ref.tar')}`] });
  const before = listTree(src);
  const events = [];
  for (let round = 0; round < 2; round++) {
    const meta = await exportImage({
      rootfs: src,
      store,
      sourceDateEpoch: EPOCH,
      onProgress: (e) => events.push(e),
      outputs: [`type=oci,dest=${src}/image.tar`, `type=tar,dest=${src}/fs.tar`, `type=local,dest=${src}/out`, `type=oci,tar=false,dest=${src}/layout`],
    });
    assert.equal(meta['containerimage.digest'], reference['containerimage.digest'], `round ${round}`);
    const names = spawnSync('tar', ['tf', `${src}/fs.tar`], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.deepEqual(names, ['etc/', 'etc/app.conf', 'hello.txt']);
    assert.deepEqual(listTree(path.join(src, 'out')), before);
    assert.deepEqual(fs.readdirSync(src).filter((n) => n.includes('.outport-')), []);
  }
  assert.ok(events.some((e) => e.phase === 'leave-out'), 'said in progress events');
});

test('npm: a failed local export leaves dest as it was', { skip: !isRoot && 'needs root for setpriv' }, () => {
  const work = tempDir();
  fs.chmodSync(work, 0o777);
  const src = source(work);
  fs.writeFileSync(path.join(src, 'zz-secret'), 'root only\n', { mode: 0o600 });
  const dest = path.join(work, 'dest');
  fs.mkdirSync(dest, { mode: 0o777 });
  fs.chmodSync(dest, 0o777);
  fs.writeFileSync(path.join(dest, 'hello.txt'), 'old\n', { mode: 0o666 });
  for (const d of [src, path.join(src, 'etc')]) fs.chmodSync(d, 0o777);
  const before = listTree(dest);
  const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, 'export', src, '-o', `type=local,dest=${dest}`, '-o', `type=oci,tar=false,dest=${work}/layout`], {
    encoding: 'utf8',
    env: { ...process.env, OUTPORT_STORE: path.join(work, 'store'), HOME: work },
  });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /zz-secret/);
  assert.deepEqual(listTree(dest), before);
  assert.ok(!fs.existsSync(path.join(work, 'layout')));
  assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('.outport-')), []);
});

async function lockEnds(content, expect) {
  const work = tempDir();
  const store = path.join(work, 'store');
  fs.mkdirSync(store);
  if (content === 'directory') fs.mkdirSync(path.join(store, 'lock'));
  else fs.writeFileSync(path.join(store, 'lock'), content);
  const started = Date.now();
  const previous = process.env.OUTPORT_LOCK_TIMEOUT;
  process.env.OUTPORT_LOCK_TIMEOUT = '2';
  try {
    await exportImage({ rootfs: source(work), store, outputs: ['type=cacheonly'] });
    assert.equal(expect, null, `${content}: expected a failure`);
  } catch (err) {
    assert.ok(expect, `${content}: ${err.message}`);
    assert.match(err.message, expect);
  } finally {
    if (previous === undefined) delete process.env.OUTPORT_LOCK_TIMEOUT;
    else process.env.OUTPORT_LOCK_TIMEOUT = previous;
  }
  assert.ok(Date.now() - started < 20_000, `${content}: ended in time`);
}

test('npm: store locks die with their holder and never hang', async () => {
  await lockEnds('999999999 1 -\n', null);
  await lockEnds('garbage\n', null);
  await lockEnds(`1 1 ${os.hostname()}\n`, null);
  await lockEnds(`${process.pid}\n`, /OUTPORT_LOCK_TIMEOUT/);
  await lockEnds('4242 17 other-machine.example\n', /locked by process 4242 on other-machine\.example/);
  await lockEnds('directory', /is not a regular file/);
});

test('npm CLI: SIGTERM ends a run as PID 1 and removes its temporaries', { skip: !isRoot && 'unshare --pid needs root' }, async () => {
  const work = tempDir();
  const src = path.join(work, 'big');
  fs.mkdirSync(src);
  const text = Buffer.alloc(64 << 20);
  let x = 0x2545f491;
  for (let i = 0; i < text.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    text[i] = 97 + ((x >>> 0) % 16);
  }
  fs.writeFileSync(path.join(src, 'noise'), text);
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', process.execPath, bin, 'export', src, '-o', `type=oci,compression=zstd,compression-level=19,dest=${work}/out.tar`], {
    env: { ...process.env, OUTPORT_STORE: path.join(work, 'store') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const started = Date.now();
  while (!fs.readdirSync(work).some((n) => n.startsWith('.out.tar.outport-'))) {
    assert.ok(Date.now() - started < 20_000, `never started writing: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim();
  assert.ok(pid, 'node runs as PID 1 of the namespace');
  spawnSync('kill', ['-TERM', pid]);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  assert.notEqual(code, 0, stderr);
  assert.match(stderr, /terminated/);
  const left = fs.readdirSync(work).filter((n) => n.includes('.outport-'));
  assert.deepEqual(left, []);
  assert.ok(!fs.existsSync(path.join(work, 'store', 'lock')), 'lock released');
  assert.deepEqual(fs.existsSync(path.join(work, 'store', 'ingest')) ? fs.readdirSync(path.join(work, 'store', 'ingest')) : [], []);
});

test('npm: store gc removes stale temporaries, verify reports them', async () => {
  const work = tempDir();
  const store = path.join(work, 'store');
  await exportImage({ rootfs: source(work), store });
  fs.mkdirSync(path.join(store, 'ingest'), { recursive: true });
  fs.writeFileSync(path.join(store, 'ingest', '999999999-1.tmp'), Buffer.alloc(4096));
  fs.writeFileSync(path.join(store, 'ingest', `${process.pid}-9.tmp`), 'live');
  const report = await storeVerify({ store });
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.stale, [{ path: 'ingest/999999999-1.tmp', size: 4096 }]);
  const gc = await storeGc({ store });
  assert.equal(gc.temporaries, 1);
  assert.ok(!fs.existsSync(path.join(store, 'ingest', '999999999-1.tmp')));
  assert.ok(fs.existsSync(path.join(store, 'ingest', `${process.pid}-9.tmp`)));
});

test('npm: two outputs to one path are refused before anything is written', async () => {
  const work = tempDir();
  const src = source(work);
  const a = path.join(work, 'a.tar');
  for (const extra of [{ outputs: [`type=oci,dest=${a}`, `type=tar,dest=${work}/./a.tar`] }, { outputs: [`type=oci,dest=${a}`], metadataFile: a }]) {
    await assert.rejects(exportImage({ rootfs: src, store: path.join(work, 'store'), ...extra }), /write the same path/);
    assert.ok(!fs.existsSync(a));
  }
});

test('npm: every option is checked with a clear invalid-option error', async () => {
  const bad = [
    ['exportImage', null, /exportImage: expected an options object, got null/],
    ['exportImage', { rootfs: 'x', threads: 'x' }, /threads: expected a whole number/],
    ['exportImage', { rootfs: 'x', onProgress: 5 }, /onProgress: expected a function/],
    ['exportImage', { rootfs: 'x', signal: {} }, /signal: expected an AbortSignal/],
    ['exportImage', { rootfs: 'x', sourceDateEpoch: 1.5 }, /sourceDateEpoch: expected whole seconds/],
    ['exportImage', { rootfs: 'x', outputs: 'type=oci' }, /outputs: expected an array/],
    ['exportImage', { rootfs: 'x', layers: [{ source: 'a' }] }, /layers: expected an array/],
    ['exportImage', { rootfs: 'x', creds: 5 }, /creds: expected 'USER:SECRET'/],
    ['exportImage', { rootfs: 'x', config: { labels: 'a=b' } }, /config\.labels: expected an array of strings/],
    ['exportImage', { rootfs: 'x', config: { healthcheck: { retries: -1 } } }, /config\.healthcheck\.retries/],
    ['exportImage', { rootfs: 'x', tread: 1 }, /tread: unknown option/],
    ['exportImage', { rootfs: 'x', sbom: 'true' }, /sbom: expected true or false/],
    ['exportImage', { rootfs: 'x', provenance: 1 }, /provenance: expected true, false or 'mode=min'/],
    ['push', { name: 5 }, /push: name: expected a string/],
    ['push', {}, /push: name: expected the stored image name/],
    ['images', { store: 5 }, /images: store: expected a string/],
    ['storeGc', 'x', /storeGc: expected an options object/],
    ['storeVerify', { host: 5 }, /storeVerify: host: expected a host object/],
  ];
  const calls = { exportImage, push, images, storeGc, storeVerify };
  for (const [call, options, expected] of bad) {
    await assert.rejects(calls[call](options), (err) => {
      assert.equal(err.kind, 'invalid-option', `${call}(${JSON.stringify(options)}): ${err.message}`);
      assert.match(err.message, expected);
      return true;
    });
  }
  // Every declared type is accepted: numbers and strings for sourceDateEpoch among them.
  const work = tempDir();
  const src = source(work);
  for (const sourceDateEpoch of [1700000000, '1700000000']) {
    const controller = new AbortController();
    const meta = await exportImage({
      rootfs: src,
      store: path.join(work, 'store'),
      sourceDateEpoch,
      threads: 1,
      signal: controller.signal,
      onProgress: () => {},
      onWarning: () => {},
      layers: [{ src: path.join(src, 'hello.txt'), dest: '/opt/' }, `${src}/etc:/etc2`],
      exclude: ['*.log'],
      outputs: ['type=cacheonly', { type: 'cacheonly' }],
      creds: { username: 'u', password: 'p' },
      provenance: typeof sourceDateEpoch === 'number' ? true : 'mode=min',
      config: { labels: ['a=b'], env: ['A=1'], expose: ['80'], healthcheck: { cmd: 'NONE', retries: 2 } },
    });
    assert.match(meta['containerimage.digest'], /^sha256:/);
  }
});

test('npm: a store that cannot be created names the real reason', { skip: !isRoot && 'needs root to mount' }, async () => {
  const work = tempDir();
  const mount = path.join(work, 'ro');
  fs.mkdirSync(mount);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mount]);
  if (mounted.status !== 0) return; // no mount in this sandbox
  try {
    await assert.rejects(exportImage({ rootfs: source(work), store: path.join(mount, 'a', 'store'), outputs: ['type=cacheonly'] }), /read-only file system/);
  } finally {
    spawnSync('umount', [mount]);
  }
});
