// The examples work as their READMEs say: the Node build script containerizes its app onto a base
// image in a real local registry (and a code-only change re-pushes only the app layer); the VS Code
// extension's command logic exports a workspace folder, with the editor API stood in for by a
// recorder (the same calls VS Code would answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startRegistry } from './support/registry.mjs';

const repo = path.resolve(import.meta.dirname, '..');
const cli = process.env.OUTPORT_BIN ?? path.join(repo, 'target', 'release', 'outport');
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'outport-examples-'));

test('examples/node-build-script pushes the app onto a base image, two new layers', async () => {
  const registry = await startRegistry();
  try {
    const work = tempDir();
    const baseRoot = path.join(work, 'base');
    fs.mkdirSync(path.join(baseRoot, 'usr/local/bin'), { recursive: true });
    fs.writeFileSync(path.join(baseRoot, 'usr/local/bin/node'), '#!/bin/sh\n');
    const base = `${registry.addr}/node:20-alpine`;
    execFileSync(cli, ['export', baseRoot, '--output', `type=registry,name=${base},registry.insecure=true`], { env: { ...process.env, OUTPORT_STORE: path.join(work, 'store') } });
    const image = `${registry.addr}/hello-app:1`;
    // A copy of the example, so a changed file does not touch the repository.
    const example = path.join(work, 'node-build-script');
    fs.cpSync(path.join(repo, 'examples', 'node-build-script'), example, { recursive: true });
    fs.writeFileSync(path.join(example, 'build.mjs'), fs.readFileSync(path.join(example, 'build.mjs'), 'utf8').replace('../../npm/lib/index.mjs', path.join(repo, 'npm', 'lib', 'index.mjs')));
    const build = () => spawnSync('node', [path.join(example, 'build.mjs'), '--base', base, '--image', image, '--insecure'], { encoding: 'utf8', env: { ...process.env, OUTPORT_STORE: path.join(work, 'store') } });
    const first = build();
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^pushed .*hello-app:1@sha256:[0-9a-f]{64} \(\d+ blobs uploaded\)/);
    const inspect = (ref) => JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', ...ref]));
    const baseLayers = inspect([`docker://${base}`]).Layers;
    const pushed = inspect([`docker://${image}`]);
    assert.equal(pushed.Layers.length, baseLayers.length + 2, 'node_modules and the app on top of the base');
    assert.deepEqual(pushed.Layers.slice(0, baseLayers.length), baseLayers);
    assert.ok(pushed.Env.includes('PORT=8080'));
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', '--config', `docker://${image}`]));
    assert.deepEqual(config.config.Entrypoint, ['npm', 'start']);
    assert.equal(config.config.WorkingDir, '/app');
    assert.ok(config.config.Healthcheck.Test.includes('wget'));

    // A code change: only the app layer (with config and manifest) is uploaded again.
    fs.appendFileSync(path.join(example, 'app', 'index.js'), '// changed\n');
    const second = build();
    assert.equal(second.status, 0, second.stderr);
    const again = inspect([`docker://${image}`]).Layers;
    assert.deepEqual(again.slice(0, -1), pushed.Layers.slice(0, -1), 'base and node_modules layers unchanged');
    assert.notEqual(again.at(-1), pushed.Layers.at(-1));
    assert.match(second.stdout, /\(2 blobs uploaded\)/, 'the app layer and the config');
  } finally {
    registry.close();
  }
});

/** Just the parts of the VS Code API the command uses, recording what it is asked. */
function editor(folder, settings) {
  const shown = { info: [], warning: [], error: [], progress: [] };
  let cancel = () => {};
  const vscode = {
    workspace: {
      workspaceFolders: folder ? [{ uri: { fsPath: folder } }] : undefined,
      getConfiguration: (section) => ({ get: (key) => settings[`${section}.${key}`] }),
    },
    window: {
      showInformationMessage: (m) => shown.info.push(m),
      showWarningMessage: (m) => shown.warning.push(m),
      showErrorMessage: (m) => shown.error.push(m),
      withProgress: (options, task) => {
        assert.equal(options.cancellable, true);
        return task({ report: (p) => shown.progress.push(p.message) }, { onCancellationRequested: (f) => { cancel = f; } });
      },
    },
    ProgressLocation: { Notification: 15 },
  };
  return { vscode, shown, cancel: () => cancel() };
}

test('examples/vscode-extension exports the workspace folder, and reports its errors', async () => {
  const require = createRequire(import.meta.url);
  const extensionManifest = JSON.parse(fs.readFileSync(path.join(repo, 'examples/vscode-extension/package.json'), 'utf8'));
  const { exportWorkspace } = require(path.join(repo, 'examples/vscode-extension/export-workspace.js'));
  const defaults = Object.fromEntries(Object.entries(extensionManifest.contributes.configuration.properties).map(([k, v]) => [k, v.default]));
  const workspace = tempDir();
  fs.writeFileSync(path.join(workspace, 'index.html'), '<h1>hi</h1>\n');
  fs.mkdirSync(path.join(workspace, '.git'));
  fs.writeFileSync(path.join(workspace, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  process.env.OUTPORT_STORE = path.join(workspace, '..', `${path.basename(workspace)}-store`);
  // Without an epoch `created` is the clock's, and two exports a second apart differ.
  process.env.SOURCE_DATE_EPOCH = '1700000000';

  const { vscode, shown } = editor(workspace, defaults);
  const metadata = await exportWorkspace(vscode);
  const tarball = path.join(workspace, '.outport', 'image.tar');
  assert.deepEqual(shown.error, []);
  assert.equal(shown.info[0], `outport: exported ${metadata['containerimage.digest']}`);
  assert.ok(shown.progress.some((m) => m.startsWith('compress')), shown.progress.join(', '));
  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${tarball}`]));
  assert.equal(inspect.Layers.length, 1);
  const blob = inspect.Layers[0].replace('sha256:', 'blobs/sha256/');
  const listing = execFileSync('sh', ['-c', `tar -xOf ${tarball} ${blob} | tar -tz`], { encoding: 'utf8' });
  assert.match(listing, /index\.html/);
  assert.doesNotMatch(listing, /\.git|\.outport/, 'excluded: .git and the previous output');

  // Exported again, the image is the same (its own output is not part of it).
  assert.equal((await exportWorkspace(editor(workspace, defaults).vscode))['containerimage.digest'], metadata['containerimage.digest']);

  const noFolder = editor(undefined, defaults);
  assert.equal(await exportWorkspace(noFolder.vscode), undefined);
  assert.deepEqual(noFolder.shown.error, ['outport: open a folder first']);

  const bad = editor(workspace, { ...defaults, 'outport.output': 'type=oci,dest=x.tar,compression=brotli' });
  assert.equal(await exportWorkspace(bad.vscode), undefined);
  assert.match(bad.shown.error[0], /^outport: .*brotli/);

  // Cancelled from the notification: the command stops and says so; no tarball is left.
  const cancelled = editor(workspace, { ...defaults, 'outport.output': `type=oci,dest=${path.join(workspace, '.outport', 'cancelled.tar')}` });
  const running = exportWorkspace(cancelled.vscode, {
    exportImage: (options) => {
      cancelled.cancel();
      return require(path.join(repo, 'npm')).exportImage(options);
    },
  });
  assert.equal(await running, undefined);
  assert.deepEqual(cancelled.shown.error, ['outport: cancelled']);
  assert.equal(fs.existsSync(path.join(workspace, '.outport', 'cancelled.tar')), false);
});

test('examples/vscode-extension bundles with esbuild (build.js) and runs from its dist/ alone', async () => {
  const work = tempDir();
  const extensionDir = path.join(work, 'extension');
  const dist = path.join(extensionDir, 'dist');
  // esbuild is the npm package's devDependency here; an extension has its own.
  const env = { ...process.env, NODE_PATH: path.join(repo, 'npm', 'node_modules') };
  const build = spawnSync('node', [path.join(repo, 'examples/vscode-extension/build.js'), '--outdir', dist], { encoding: 'utf8', env });
  assert.equal(build.status, 0, build.stderr);
  assert.equal(build.stderr, '', 'esbuild warns of nothing');
  assert.deepEqual(fs.readdirSync(dist).sort(), ['compress-worker.js', 'extension.js', 'outport.js', 'outport_bg.wasm']);
  // The editor's API module, as the extension host provides it to the bundle's require('vscode').
  fs.mkdirSync(path.join(extensionDir, 'node_modules', 'vscode'), { recursive: true });
  fs.writeFileSync(path.join(extensionDir, 'node_modules', 'vscode', 'index.js'), 'module.exports = globalThis.outportTestEditor;\n');

  const workspace = tempDir();
  fs.writeFileSync(path.join(workspace, 'index.html'), '<h1>hi</h1>\n');
  process.env.OUTPORT_STORE = path.join(work, 'store');
  const manifest = JSON.parse(fs.readFileSync(path.join(repo, 'examples/vscode-extension/package.json'), 'utf8'));
  assert.equal(manifest.main, './dist/extension.js');
  const defaults = Object.fromEntries(Object.entries(manifest.contributes.configuration.properties).map(([k, v]) => [k, v.default]));
  const { vscode, shown } = editor(workspace, defaults);
  const commands = new Map();
  vscode.commands = { registerCommand: (id, run) => commands.set(id, run) && { dispose() {} } };
  globalThis.outportTestEditor = vscode;
  const extension = createRequire(import.meta.url)(path.join(extensionDir, manifest.main));
  extension.activate({ subscriptions: [] });
  const metadata = await commands.get('outport.exportWorkspace')();
  assert.deepEqual(shown.error, []);
  const tarball = path.join(workspace, '.outport', 'image.tar');
  const index = JSON.parse(execFileSync('tar', ['-xOf', tarball, 'index.json'], { encoding: 'utf8' }));
  assert.equal(index.manifests[0].digest, metadata['containerimage.digest']);
  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${tarball}`]));
  assert.equal(inspect.Layers.length, 1);
});
