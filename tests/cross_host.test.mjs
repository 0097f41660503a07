// Cross-host determinism: the native CLI (wasmtime + component) and the npm package (Node +
// wasm-bindgen) must write byte-identical images from the same input and options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from './support/registry.mjs';

const repo = path.resolve(import.meta.dirname, '..');
const nativeBin = process.env.OUTPORT_BIN ?? path.join(repo, 'target', 'debug', 'outport');
const npmBin = path.join(repo, 'npm', 'bin', 'outport.js');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
const EPOCH = '1445412480';

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'outport-cross-'));
}

function run(argv, work) {
  const [cmd, ...args] = argv;
  const result = spawnSync(cmd, args, {
    // Hermetic: no docker config or CI credentials of the machine running the tests.
    env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, 'store'), DOCKER_CONFIG: path.join(work, 'docker'), OUTPORT_REGISTRY_USER: '', OUTPORT_REGISTRY_TOKEN: '' },
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `${argv.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Export `rootfs` with both CLIs to `<work>/<host>.<ext>` and return their metadata. */
function exportWithBoth(rootfs, work, spec) {
  const out = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const dest = path.join(work, host);
    out[host] = run([...argv, 'export', rootfs, '-o', `${spec},dest=${dest}`], path.join(work, `${host}-work`));
  }
  return out;
}

test('bundled example: native CLI and npm give byte-identical OCI tarballs', () => {
  const work = tempDir();
  const meta = exportWithBoth(path.join(repo, 'examples', 'rootfs'), work, 'type=oci');
  assert.deepEqual(meta.native, meta.npm);
  assert.match(meta.native['containerimage.digest'], /^sha256:[0-9a-f]{64}$/);
  assert.ok(fs.readFileSync(path.join(work, 'native')).equals(fs.readFileSync(path.join(work, 'npm'))));
  execFileSync('skopeo', ['inspect', `oci-archive:${path.join(work, 'npm')}`]);
});

test('npm API returns the same metadata as the CLIs', async () => {
  const work = tempDir();
  const rootfs = path.join(repo, 'examples', 'rootfs');
  const cli = run([nativeBin, 'export', rootfs, '-o', `type=oci,dest=${path.join(work, 'cli.tar')}`], work);
  process.env.SOURCE_DATE_EPOCH = EPOCH;
  try {
    const api = await exportImage({ rootfs, outputs: [`type=oci,dest=${path.join(work, 'api.tar')}`], store: path.join(work, 'api-store') });
    assert.deepEqual(api, cli);
  } finally {
    delete process.env.SOURCE_DATE_EPOCH;
  }
  assert.ok(fs.readFileSync(path.join(work, 'cli.tar')).equals(fs.readFileSync(path.join(work, 'api.tar'))));
});

/** A tree with the awkward cases: hardlinks, long and unicode names, symlinks, fifo, setuid, old and far-future mtimes. */
function awkwardTree(root) {
  fs.mkdirSync(path.join(root, 'deep/a/b/c/d/e/f/g'), { recursive: true });
  fs.writeFileSync(path.join(root, 'deep/a/b/c/d/e/f/g/leaf'), 'leaf');
  const longDir = 'd'.repeat(120);
  fs.mkdirSync(path.join(root, longDir));
  fs.writeFileSync(path.join(root, longDir, 'f'.repeat(130)), 'long');
  fs.writeFileSync(path.join(root, 'ünïcødé ☃.txt'), 'snow');
  fs.writeFileSync(path.join(root, 'original'), 'linked');
  fs.linkSync(path.join(root, 'original'), path.join(root, 'zz-hardlink'));
  fs.symlinkSync('original', path.join(root, 'relative-link'));
  fs.symlinkSync('/does/not/exist', path.join(root, 'dangling-link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  fs.writeFileSync(path.join(root, 'setuid'), '#!/bin/sh\n');
  fs.chmodSync(path.join(root, 'setuid'), 0o4755);
  fs.writeFileSync(path.join(root, 'empty'), '');
  fs.writeFileSync(path.join(root, 'block-boundary'), Buffer.alloc(512, 1));
  fs.writeFileSync(path.join(root, 'big'), Buffer.alloc(3 * 1024 * 1024 + 7, 'x'));
  execFileSync('touch', ['-h', '-d', '1960-06-01T00:00:00Z', path.join(root, 'original')]);
  execFileSync('touch', ['-h', '-d', '2100-01-01T00:00:00Z', path.join(root, 'empty')]);
}

/** Text that repeats with variation (words in a fixed pseudo-random order), so match finders have work. */
function variedText(bytes) {
  const words = ['export', 'layer', 'digest', 'manifest', 'config', 'the', 'of', 'linux', 'arm64', '=', '{', '}', '\n'];
  let state = 12345;
  const parts = [];
  for (let len = 0; len < bytes; ) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const word = words[(state >>> 16) % words.length] + ((state >>> 16) % 7 === 0 ? String(state % 300) : '') + ' ';
    parts.push(word);
    len += word.length;
  }
  return parts.join('');
}

// Every zstd tier (levels 0-2, 3-5, 6-9, 10+) as well as gzip, estargz and no compression.
for (const compression of [
  'gzip',
  'uncompressed',
  'zstd',
  'zstd,compression-level=1',
  'zstd,compression-level=7',
  'zstd,compression-level=19',
  'estargz',
  'estargz,compression-level=9',
]) {
  test(`awkward tree, compression=${compression}: identical digests on both hosts`, () => {
    const work = tempDir();
    const rootfs = path.join(work, 'rootfs');
    fs.mkdirSync(rootfs);
    awkwardTree(rootfs);
    fs.writeFileSync(path.join(rootfs, 'varied.txt'), variedText(1024 * 1024));
    if (compression.startsWith('estargz')) {
      // Several 4 MiB chunks, each its own gzip member with its offset in the TOC.
      fs.writeFileSync(path.join(rootfs, 'chunked.txt'), variedText(9 * 1024 * 1024 + 5));
    }
    const meta = exportWithBoth(rootfs, work, `type=oci,compression=${compression}`);
    assert.deepEqual(meta.native, meta.npm);
    assert.ok(fs.readFileSync(path.join(work, 'native')).equals(fs.readFileSync(path.join(work, 'npm'))));
  });
}

test('directory layouts (tar=false) are identical too', () => {
  const work = tempDir();
  exportWithBoth(path.join(repo, 'examples', 'rootfs'), work, 'type=oci,tar=false');
  const list = (dir) => fs.readdirSync(dir, { recursive: true }).sort();
  const native = path.join(work, 'native');
  const npm = path.join(work, 'npm');
  assert.deepEqual(list(native), list(npm));
  for (const f of list(native)) {
    if (fs.statSync(path.join(native, f)).isFile()) {
      assert.ok(fs.readFileSync(path.join(native, f)).equals(fs.readFileSync(path.join(npm, f))), f);
    }
  }
});

test('the local store (type=image, -t) ends up identical from both hosts', () => {
  const work = tempDir();
  const rootfs = path.join(repo, 'examples', 'rootfs');
  const stores = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const hostWork = path.join(work, host);
    fs.mkdirSync(hostWork);
    run([...argv, 'export', rootfs, '-t', 'foo', '-t', 'ghcr.io/o/r:v1'], hostWork);
    stores[host] = path.join(hostWork, 'store');
  }
  const files = (dir) => fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
  assert.deepEqual(files(stores.native), files(stores.npm));
  for (const f of files(stores.native)) {
    assert.ok(fs.readFileSync(path.join(stores.native, f)).equals(fs.readFileSync(path.join(stores.npm, f))), f);
  }
  const listed = spawnSync(process.execPath, [npmBin, 'images', '--json', '--store', stores.npm], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(listed.stdout).map((r) => r.name), ['docker.io/library/foo:latest', 'ghcr.io/o/r:v1']);
});

test('a multi-platform result gives the same index from both hosts', () => {
  const work = tempDir();
  for (const arch of ['amd64', 'arm64']) {
    fs.mkdirSync(path.join(work, arch));
    fs.writeFileSync(path.join(work, arch, 'arch'), arch);
  }
  const result = path.join(work, 'result.json');
  fs.writeFileSync(result, JSON.stringify({ platforms: ['amd64', 'arm64'].map((a) => ({ platform: `linux/${a}`, layers: [a] })) }));
  const meta = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const dest = path.join(work, `${host}.tar`);
    meta[host] = run([...argv, 'export', '--result', result, '-o', `type=oci,dest=${dest},annotation-index.a=b`], path.join(work, host));
  }
  assert.deepEqual(meta.native, meta.npm);
  assert.equal(meta.npm['containerimage.descriptor'].mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.ok(fs.readFileSync(path.join(work, 'native.tar')).equals(fs.readFileSync(path.join(work, 'npm.tar'))));
});

test('attestations give the same index from both hosts', () => {
  const work = tempDir();
  const sbom = path.join(work, 'sbom.json');
  fs.writeFileSync(sbom, '{"spdxVersion":"SPDX-2.3","packages":[{"name":"a<b>"}]}');
  const meta = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const dest = path.join(work, `${host}.tar`);
    const args = ['export', path.join(repo, 'examples', 'rootfs'), '--attest', `type=sbom,path=${sbom}`, '--platform', 'linux/arm64'];
    meta[host] = run([...argv, ...args, '-o', `type=oci,dest=${dest},name=app:1,oci-artifact=true`], path.join(work, host));
  }
  assert.deepEqual(meta.native, meta.npm);
  assert.ok(fs.readFileSync(path.join(work, 'native.tar')).equals(fs.readFileSync(path.join(work, 'npm.tar'))));
});

test('type=tar streams the same filesystem from both hosts', () => {
  const work = tempDir();
  const out = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const result = spawnSync(argv[0], [...argv.slice(1), 'export', path.join(repo, 'examples', 'rootfs'), '-o', '-'], {
      env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, host) },
    });
    assert.equal(result.status, 0, String(result.stderr));
    out[host] = result.stdout;
  }
  assert.ok(out.native.length > 1024);
  assert.ok(out.native.equals(out.npm));
});

test('type=local writes the same tree (modes, links, mtimes) from both hosts', () => {
  const work = tempDir();
  const rootfs = path.join(work, 'rootfs');
  fs.mkdirSync(rootfs);
  awkwardTree(rootfs);
  const describe = (dir) =>
    fs
      .readdirSync(dir, { recursive: true })
      .sort()
      .map((f) => {
        const p = path.join(dir, f);
        const st = fs.lstatSync(p);
        const what = st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : st.isFile() ? fs.readFileSync(p).toString('base64') : 'dir';
        return `${f} ${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs / 1000)} ${what}`;
      });
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const result = spawnSync(argv[0], [...argv.slice(1), 'export', rootfs, '-o', path.join(work, host)], {
      env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, `${host}-store`) },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /skipped fifo/);
  }
  assert.deepEqual(describe(path.join(work, 'npm')), describe(path.join(work, 'native')));
});

test('both hosts reject every bad option with the same message', () => {
  const work = tempDir();
  const rootfs = path.join(repo, 'examples', 'rootfs');
  const dest = path.join(work, 'never.tar');
  const cases = [
    `type=bogus,dest=${dest}`,
    `type=oci,dest=${dest},compression=lz4`,
    `type=oci,dest=${dest},compression-level=10`,
    `type=oci,dest=${dest},compression=zstd,compression-level=23`,
    `type=oci,dest=${dest},tar=maybe`,
    `type=oci,dest=${dest},oci-mediatypes=`,
    `type=oci,dest=${dest},rewrite-timestamp=x`,
    `type=oci,dest=${dest},name=UPPER`,
    `type=oci,dest=${dest},annotation-index.k=v`,
    `type=oci,dest=${dest},annotation-bogus.k=v`,
    `type=oci,dest=${dest},annotation[linux/z80].k=v`,
    `type=oci,dest=${dest},oci-mediatypes=false,oci-artifact=true`,
    `type=docker`,
    `type=image,push=maybe`,
    `type=image,push=true`,
    `type=local`,
    `type=local,dest=${work}/l,mode=move`,
    `type=oci,"dest=${dest}`,
    `type=oci,dest=${path.join(work, 'missing', 'x.tar')}`,
  ];
  for (const spec of cases) {
    const stderr = {};
    for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
      const result = spawnSync(argv[0], [...argv.slice(1), 'export', rootfs, '-o', spec], {
        env: { ...process.env, OUTPORT_STORE: path.join(work, `${host}-store`) },
        encoding: 'utf8',
      });
      assert.equal(result.status, 1, `${host} ${spec}: ${result.stderr}`);
      stderr[host] = result.stderr;
    }
    assert.equal(stderr.npm, stderr.native, spec);
    assert.match(stderr.native, /^error: .+\n$/, spec);
  }
  assert.deepEqual(fs.readdirSync(work).filter((n) => !n.endsWith('-store')), []);
});

test('both hosts push the same image to a real registry', async () => {
  const work = tempDir();
  const registry = await startRegistry();
  const { addr } = registry;
  try {
    const digests = {};
    for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
      const spec = `type=registry,name=${addr}/cross:${host},registry.insecure=true`;
      digests[host] = run([...argv, 'export', path.join(repo, 'examples', 'rootfs'), '-o', spec], path.join(work, host))['containerimage.digest'];
      const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${addr}/cross:${host}`], { encoding: 'utf8' }));
      assert.equal(inspect.Digest, digests[host]);
    }
    assert.equal(digests.native, digests.npm);

    // The npm API's push() sends an image from its store.
    const { push, exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
    const store = path.join(work, 'api-store');
    const name = `${addr}/stored:npm`;
    const meta = await exportImage({ rootfs: path.join(repo, 'examples', 'rootfs'), tags: [name], store });
    const pushed = await push({ name, store, insecure: true });
    assert.equal(pushed['containerimage.digest'], meta['containerimage.digest']);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`], { encoding: 'utf8' }));
    assert.equal(inspect.Digest, meta['containerimage.digest']);
  } finally {
    registry.close();
  }
});

test('both hosts push a big layer in chunks to the same digest', async () => {
  const work = tempDir();
  const rootfs = path.join(work, 'rootfs');
  fs.mkdirSync(rootfs);
  // 40 MiB of noise: an uncompressed layer above the 32 MiB single-PUT limit, so 3 PATCH chunks.
  fs.writeFileSync(path.join(rootfs, 'noise.bin'), (await import('node:crypto')).randomBytes(40 << 20));
  const registry = await startRegistry();
  try {
    const digests = {};
    for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
      const spec = `type=registry,name=${registry.addr}/big:${host},registry.insecure=true,compression=uncompressed`;
      digests[host] = run([...argv, 'export', rootfs, '-o', spec], path.join(work, host))['containerimage.digest'];
      // skopeo copy re-verifies every blob it pulls.
      execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.addr}/big:${host}`, `oci:${path.join(work, `copy-${host}`)}:x`]);
    }
    assert.equal(digests.native, digests.npm);
  } finally {
    registry.close();
  }
});

test('--base from a registry: both hosts give byte-identical images', async () => {
  const work = tempDir();
  const registry = await startRegistry();
  const { addr } = registry;
  try {
    const base = `${addr}/base:1`;
    run([nativeBin, 'export', path.join(repo, 'examples', 'rootfs'), '--env', 'BASE=1', '-o', `type=registry,name=${base},registry.insecure=true`], path.join(work, 'base'));
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'app.txt'), 'on top\n');
    const meta = {};
    for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
      // Each host pulls into its own fresh store.
      meta[host] = run([...argv, 'export', app, '--base', base, '--base-insecure', '--env', 'APP=1', '-o', `type=oci,dest=${path.join(work, `${host}.tar`)}`], path.join(work, host));
    }
    assert.deepEqual(meta.native, meta.npm);
    assert.ok(fs.readFileSync(path.join(work, 'native.tar')).equals(fs.readFileSync(path.join(work, 'npm.tar'))));
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${path.join(work, 'npm.tar')}`], { encoding: 'utf8' }));
    assert.equal(inspect.Layers.length, 2);
    assert.ok(inspect.Env.includes('BASE=1') && inspect.Env.includes('APP=1'));
  } finally {
    registry.close();
  }
});

test('npm push sends a stored image like the native CLI does', async () => {
  const { push, exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
  const work = tempDir();
  const store = path.join(work, 'store');
  await assert.rejects(push({ name: 'localhost:9/never:1', store, insecure: true }), /no image named/);
  const meta = await exportImage({ rootfs: path.join(repo, 'examples', 'rootfs'), tags: ['127.0.0.1:9/app:1'], store });
  // Nothing listens on port 9: the attempt itself must fail with a registry error naming the URL.
  await assert.rejects(push({ name: '127.0.0.1:9/app:1', store, insecure: true }), (err) => {
    assert.equal(err.kind, 'registry');
    assert.match(err.message, /push to 127\.0\.0\.1:9\/app: .*http:\/\/127\.0\.0\.1:9\/v2\//);
    return true;
  });
  assert.match(meta['containerimage.digest'], /^sha256:/);
});

test('--progress json prints the same event lines from both hosts', () => {
  const work = tempDir();
  const lines = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const result = spawnSync(argv[0], [...argv.slice(1), 'export', path.join(repo, 'examples', 'rootfs'), '-o', `type=oci,dest=${work}/${host}.tar`, '--progress', 'json'], {
      env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, `${host}-store`) },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    lines[host] = result.stderr.trim().split('\n').map((l) => JSON.parse(l)).map((e) => ({ ...e, id: e.id.replace(work, '') }));
  }
  assert.deepEqual(lines.npm.map((e) => e.phase), lines.native.map((e) => e.phase));
  assert.deepEqual(Object.keys(lines.native[0]), ['phase', 'id', 'current', 'total']);
  assert.equal(lines.native.at(-1).phase, 'done');
});

test('store verify and gc give the same reports from both hosts', async () => {
  const { storeVerify, storeGc } = createRequire(import.meta.url)(path.join(repo, 'npm'));
  const reports = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const work = tempDir();
    run([...argv, 'export', path.join(repo, 'examples', 'rootfs'), '-t', 'kept:1'], work);
    // A whole blob that no image reaches (as an export that failed before naming its image leaves).
    const hex = (await import('node:crypto')).createHash('sha256').update('orphan').digest('hex');
    const orphan = path.join(work, 'store', 'blobs', 'sha256', hex);
    fs.writeFileSync(orphan, 'orphan');
    reports[host] = { verify: run([...argv, 'store', 'verify', '--json'], work), gc: run([...argv, 'store', 'gc', '--json'], work) };
    assert.equal(fs.existsSync(orphan), false);
    // The npm API gives the same answers.
    assert.deepEqual(await storeVerify({ store: path.join(work, 'store') }), { ...reports[host].verify, blobs: reports[host].verify.blobs - 1, bytes: reports[host].verify.bytes - 6 });
    assert.equal((await storeGc({ store: path.join(work, 'store') })).removed, 0);
  }
  assert.deepEqual(reports.native.verify.problems, []);
  assert.equal(reports.native.gc.removed, 1);
  assert.deepEqual(reports.native, reports.npm);
});

test('npm takes the same store lock as the native CLI', async () => {
  const { spawn } = await import('node:child_process');
  const work = tempDir();
  const store = path.join(work, 'store');
  fs.mkdirSync(store, { recursive: true });
  const holder = spawn('sleep', ['30']);
  fs.writeFileSync(path.join(store, 'lock'), `${holder.pid}\n`);
  let finished = false;
  const exporting = exportImage({ rootfs: path.join(repo, 'examples', 'rootfs'), tags: ['locked:1'], store }).then((m) => {
    finished = true;
    return m;
  });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(finished, false, 'the export went ahead while the store was locked');
  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.on('exit', resolve));
  assert.match((await exporting)['containerimage.digest'], /^sha256:/);
  assert.equal(fs.existsSync(path.join(store, 'lock')), false);
  // A lock of a dead process is taken over: the native CLI's export goes ahead at once.
  fs.writeFileSync(path.join(store, 'lock'), `${holder.pid}\n`);
  run([nativeBin, 'export', path.join(repo, 'examples', 'rootfs'), '--store', store, '-t', 'after:1'], work);
});

test('healthcheck, volumes and stop signal: same config from both hosts, as skopeo reads it', () => {
  const work = tempDir();
  const flags = ['--healthcheck-cmd', '["wget","-q","-O-","http://localhost:8080/health"]', '--healthcheck-interval', '30s',
    '--healthcheck-timeout', '3s', '--healthcheck-start-period', '1m', '--healthcheck-retries', '4', '--volume', '/data', '--stop-signal', 'SIGQUIT'];
  const tars = {};
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    tars[host] = path.join(work, `${host}.tar`);
    run([...argv, 'export', path.join(repo, 'examples', 'rootfs'), ...flags, '-o', `type=oci,dest=${tars[host]}`], path.join(work, host));
  }
  assert.ok(fs.readFileSync(tars.native).equals(fs.readFileSync(tars.npm)));
  const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', '--raw', `oci-archive:${tars.npm}`], { encoding: 'utf8' })).config;
  assert.deepEqual(config.Healthcheck, { Test: ['CMD', 'wget', '-q', '-O-', 'http://localhost:8080/health'], Interval: 30e9, Timeout: 3e9, StartPeriod: 60e9, Retries: 4 });
  assert.deepEqual(config.Volumes, { '/data': {} });
  assert.equal(config.StopSignal, 'SIGQUIT');
  for (const argv of [[nativeBin], [process.execPath, npmBin]]) {
    const bad = spawnSync(argv[0], [...argv.slice(1), 'export', path.join(repo, 'examples', 'rootfs'), '--healthcheck-interval', '10', '-o', `type=oci,dest=${path.join(work, 'x.tar')}`], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /need --healthcheck-cmd|--healthcheck-interval "10"/);
  }
});

test('--base applied for type=tar and type=local: both hosts give the same bytes and trees (issue 19)', () => {
  const work = tempDir();
  const layout = path.join(work, 'base');
  execFileSync('python3', [path.join(repo, 'tests', 'support', 'make_base.py'), layout, `outport-cross-escape-${process.pid}`]);
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'app.txt'), 'on top\n');
  const tars = {};
  const trees = {};
  // A walk that never follows a symlink (readdirSync's recursive mode follows symlinked
  // directories, and the base has one climbing to the real /tmp).
  const walk = (dir, rel = '') =>
    fs.readdirSync(path.join(dir, rel)).flatMap((name) => {
      const f = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, f));
      return st.isDirectory() ? [f, ...walk(dir, f)] : [f];
    });
  const describe = (dir) =>
    walk(dir)
      .sort()
      .map((f) => {
        const p = path.join(dir, f);
        const st = fs.lstatSync(p);
        const what = st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : st.isFile() ? fs.readFileSync(p).toString('base64') : 'dir';
        return `${f} ${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs / 1000)} ${st.nlink} ${what}`;
      });
  for (const [host, argv] of [['native', [nativeBin]], ['npm', [process.execPath, npmBin]]]) {
    const tar = path.join(work, `${host}.tar`);
    const local = path.join(work, `${host}-local`);
    const result = spawnSync(argv[0], [...argv.slice(1), 'export', app, '--base', `oci:${layout}:1`, '-o', `type=tar,dest=${tar}`, '-o', `type=local,dest=${local}`], {
      env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, `${host}-store`) },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    tars[host] = fs.readFileSync(tar);
    trees[host] = describe(local);
  }
  assert.ok(tars.native.equals(tars.npm));
  assert.deepEqual(trees.npm, trees.native);
  const listing = execFileSync('tar', ['-tf', path.join(work, 'npm.tar')], { encoding: 'utf8' }).split('\n');
  assert.ok(listing.includes('etc/hosts') && listing.includes('app.txt') && !listing.some((n) => n.includes('.wh.')), listing.join(' '));
  // The symlink climbs to the real /tmp; what is beneath it lands in the output's tmp/ only.
  assert.ok(!fs.existsSync(path.join('/tmp', `outport-cross-escape-${process.pid}`)));
  assert.ok(fs.existsSync(path.join(work, 'npm-local', 'tmp', `outport-cross-escape-${process.pid}`)));
});
