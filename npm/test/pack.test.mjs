// `npm pack` gives a package that installs into an empty project elsewhere and works there: the
// CommonJS and ESM entries, the bin and the browser entry's files, without the test tools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const npmDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = path.resolve(npmDir, '..', 'examples', 'rootfs');

function run(command, args, cwd, env = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000', ...env } });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

test('the packed tarball installs in an empty directory and works there', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-pack-'));
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], npmDir))[0];
  const names = packed.files.map((f) => f.path);
  for (const needed of ['README.md', 'LICENSE', 'lib/index.js', 'lib/index.mjs', 'lib/index.d.ts', 'lib/browser.mjs', 'lib/memory-host.mjs', 'lib/memory-host.cjs', 'lib/assets.js', 'lib/compress-worker.js', 'bin/outport.js', 'wasm/outport_bg.wasm', 'wasm-web/outport_bg.wasm']) {
    assert.ok(names.includes(needed), `${needed} is in the package`);
  }
  assert.ok(!names.some((n) => n.startsWith('test/') || n.includes('node_modules')), 'no tests or test tools');

  const project = path.join(work, 'somewhere', 'else', 'project');
  fs.mkdirSync(project, { recursive: true });
  run('npm', ['init', '-y'], project);
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', path.join(work, packed.filename)], project);
  const store = path.join(work, 'store');
  const env = { OUTPORT_STORE: store };

  const cjs = `const o = require('outport'); o.exportImage({ rootfs: ${JSON.stringify(example)}, outputs: ['type=oci,dest=cjs.tar'] }).then((m) => console.log(m['containerimage.digest'], typeof o.createMemoryHost({}).readOutput))`;
  const esm = `import { exportImage, createMemoryHost } from 'outport'; const m = await exportImage({ rootfs: ${JSON.stringify(example)}, outputs: [{ type: 'oci', dest: 'esm.tar' }] }); console.log(m['containerimage.digest'], typeof createMemoryHost)`;
  const [fromCjs, memoryHost] = run('node', ['-e', cjs], project, env).trim().split(' ');
  assert.equal(memoryHost, 'function', 'the CommonJS entry has the in-memory host');
  const fromEsm = run('node', ['--input-type=module', '-e', esm], project, env).trim();
  assert.match(fromCjs, /^sha256:[0-9a-f]{64}$/);
  assert.equal(fromEsm, `${fromCjs} function`);
  const fromBin = JSON.parse(run(path.join(project, 'node_modules', '.bin', 'outport'), ['export', example, '--output', 'type=oci,dest=bin.tar'], project, env));
  assert.equal(fromBin['containerimage.digest'], fromCjs);
  assert.deepEqual(fs.readFileSync(path.join(project, 'cjs.tar')), fs.readFileSync(path.join(project, 'bin.tar')));
});
