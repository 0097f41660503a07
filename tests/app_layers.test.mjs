// Containerizing an app through the npm API (host/tests/app_layers.rs does it with the CLI): layers at
// chosen paths, owner, excludes and the Node preset on a base image in a real registry; the same
// request gives the same image digest as the native CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from './support/registry.mjs';

const repo = path.resolve(import.meta.dirname, '..');
const nativeBin = process.env.OUTPORT_BIN ?? path.join(repo, 'target', 'release', 'outport');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
const EPOCH = '1445412480';

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'outport-app-'));
}

/** A small Node app with dependencies, code, and files that must stay out of the image. */
function nodeApp(work) {
  const app = path.join(work, 'app');
  fs.mkdirSync(path.join(app, 'node_modules', 'left-pad'), { recursive: true });
  fs.mkdirSync(path.join(app, '.git'));
  fs.writeFileSync(path.join(app, 'node_modules', 'left-pad', 'index.js'), 'module.exports = (s) => s;\n'.repeat(2000));
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","scripts":{"start":"node server.js"}}');
  fs.writeFileSync(path.join(app, 'server.js'), "console.log('v1');\n");
  fs.writeFileSync(path.join(app, '.npmrc'), '//registry.npmjs.org/:_authToken=secret\n');
  fs.writeFileSync(path.join(app, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  fs.writeFileSync(path.join(app, 'notes.tmp'), 'scratch\n');
  fs.writeFileSync(path.join(app, 'debug.log'), 'noise\n');
  fs.writeFileSync(path.join(app, '.outportignore'), '*.tmp\n');
  return app;
}

function skopeo(args) {
  return JSON.parse(execFileSync('skopeo', args, { encoding: 'utf8' }));
}

/** Entries of a layer blob as "uid/gid path". */
function listing(blob) {
  return execFileSync('tar', ['--numeric-owner', '-tvf', blob], { encoding: 'utf8' })
    .trim().split('\n').map((l) => { const f = l.split(/\s+/); return `${f[1]} ${f.slice(5).join(' ')}`; });
}

async function withEpoch(job) {
  process.env.SOURCE_DATE_EPOCH = EPOCH;
  try {
    return await job();
  } finally {
    delete process.env.SOURCE_DATE_EPOCH;
  }
}

test('npm: node app on a registry base, then a code-only change uploads only the app layer and config', async () => {
  const registry = await startRegistry();
  try {
    const work = tempDir();
    const baseRoot = path.join(work, 'base-rootfs');
    fs.mkdirSync(path.join(baseRoot, 'usr', 'local', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(baseRoot, 'usr', 'local', 'bin', 'node'), '#!/bin/sh\n');
    const base = `${registry.addr}/node:20`;
    await exportImage({ rootfs: baseRoot, outputs: [`type=registry,name=${base},registry.insecure=true`], store: path.join(work, 'base-store') });

    const app = nodeApp(work);
    const target = `${registry.addr}/app:1`;
    const push = async () => {
      const uploads = new Set();
      const metadata = await exportImage({
        nodeApp: app,
        base,
        baseInsecure: true,
        exclude: ['*.log'],
        config: { healthcheck: { cmd: '["node","-e","process.exit(0)"]', interval: '30s' } },
        outputs: [`type=registry,name=${target},registry.insecure=true`],
        store: path.join(work, 'store'),
        onProgress: (e) => { if (e.phase === 'push' && e.id.startsWith('sha256:') && e.current === 0 && e.total > 0) uploads.add(e.id); },
      });
      return { metadata, uploads };
    };
    const first = await push();
    const inspect = skopeo(['inspect', '--tls-verify=false', `docker://${target}`]);
    assert.equal(inspect.Layers.length, 3, 'base layer, dependencies, app');
    assert.ok(first.uploads.has(inspect.Layers[1]) && first.uploads.has(inspect.Layers[2]));
    const config = skopeo(['inspect', '--config', '--raw', '--tls-verify=false', `docker://${target}`]).config;
    assert.equal(config.WorkingDir, '/app');
    assert.deepEqual(config.Entrypoint, ['npm', 'start']);
    assert.equal(config.User, '1000');
    assert.deepEqual(config.Healthcheck, { Test: ['CMD', 'node', '-e', 'process.exit(0)'], Interval: 30000000000 });

    const copy = path.join(work, 'copy');
    execFileSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${target}`, `oci:${copy}`]);
    const blob = (digest) => path.join(copy, 'blobs', ...digest.split(':'));
    assert.deepEqual(listing(blob(inspect.Layers[2])).map((l) => l.split(' ')[1]), ['app/', 'app/package.json', 'app/server.js']);
    assert.ok(listing(blob(inspect.Layers[1])).some((l) => l.endsWith(' app/node_modules/left-pad/index.js')));

    fs.writeFileSync(path.join(app, 'server.js'), "console.log('v2');\n");
    const second = await push();
    const inspect2 = skopeo(['inspect', '--tls-verify=false', `docker://${target}`]);
    assert.deepEqual(inspect2.Layers.slice(0, 2), inspect.Layers.slice(0, 2));
    const configDigest = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${target}`]).config.digest;
    assert.deepEqual([...second.uploads].sort(), [inspect2.Layers[2], configDigest].sort());
  } finally {
    registry.close();
  }
});

test('npm API and native CLI build the same image from layers, owner and excludes', async () => {
  const work = tempDir();
  const site = path.join(work, 'site');
  fs.mkdirSync(path.join(site, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(site, 'index.html'), '<h1>hi</h1>\n');
  fs.writeFileSync(path.join(site, 'sub', 'x.map'), 'map\n');
  fs.writeFileSync(path.join(site, 'keep.map'), 'kept\n');
  fs.symlinkSync('/nowhere', path.join(site, 'dangling'));
  fs.writeFileSync(path.join(work, 'app.conf'), 'port=80\n');
  const spec = (name) => `type=oci,dest=${path.join(work, name)},tar=false`;
  const cli = spawnSync(nativeBin, ['export', '--layer', `${site}:/srv/www`, '--layer', `${path.join(work, 'app.conf')}:/etc/app/`,
    '--owner', '1000:1000', '--exclude', '**/*.map', '--exclude', '!keep.map', '-o', spec('cli')], {
    env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, OUTPORT_STORE: path.join(work, 'cli-store') }, encoding: 'utf8',
  });
  assert.equal(cli.status, 0, cli.stderr);
  const api = await withEpoch(() => exportImage({
    layers: [{ src: site, dest: '/srv/www' }, `${path.join(work, 'app.conf')}:/etc/app/`],
    owner: '1000:1000',
    exclude: ['**/*.map', '!keep.map'],
    outputs: [spec('api')],
    store: path.join(work, 'api-store'),
  }));
  assert.deepEqual(api, JSON.parse(cli.stdout));
  const index = JSON.parse(fs.readFileSync(path.join(work, 'api', 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(work, 'api', 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'));
  const first = path.join(work, 'api', 'blobs', ...manifest.layers[0].digest.split(':'));
  assert.deepEqual(listing(first), [
    '0/0 srv/', '1000/1000 srv/www/', '1000/1000 srv/www/dangling -> /nowhere', '1000/1000 srv/www/index.html',
    '1000/1000 srv/www/keep.map', '1000/1000 srv/www/sub/',
  ]);
});
