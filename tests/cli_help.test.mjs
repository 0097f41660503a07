// One command line for both CLIs (issue 16): the native CLI and `node npm/bin/outport.js` parse
// with the core's table (src/cli), so their help, usage errors and exit statuses are the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..');
const nativeBin = process.env.OUTPORT_BIN ?? path.join(repo, 'target', 'release', 'outport');
const npmBin = path.join(repo, 'npm', 'bin', 'outport.js');

function both(args) {
  const native = spawnSync(nativeBin, args, { encoding: 'utf8' });
  const npm = spawnSync(process.execPath, [npmBin, ...args], { encoding: 'utf8' });
  return { native, npm };
}

for (const args of [['export', '--help'], ['--help'], ['help', 'push'], ['images', '-h'], ['push', '--help'], ['store', '--help'], ['store', 'verify', '--help'], ['store', 'gc', '-h']]) {
  test(`outport ${args.join(' ')} prints the same help from both CLIs`, () => {
    const { native, npm } = both(args);
    assert.equal(native.status, 0, native.stderr);
    assert.equal(npm.status, 0, npm.stderr);
    assert.equal(npm.stdout, native.stdout);
    assert.match(native.stdout, /^Usage: outport /m);
  });
}

test('export --help lists every healthcheck flag in both CLIs', () => {
  const { native } = both(['export', '--help']);
  for (const flag of ['cmd', 'interval', 'timeout', 'start-period', 'start-interval', 'retries']) {
    assert.match(native.stdout, new RegExp(`--healthcheck-${flag} `));
  }
});

for (const args of [['export', '--no-such-flag'], ['export', '--threads', 'x'], ['export', '--progress=loud'], ['export', '--build-arg', 'A=1'], ['push'], ['store', 'prune'], ['frobnicate'], []]) {
  test(`outport ${args.join(' ')}: the same one-line usage error, exit 2`, () => {
    const { native, npm } = both(args);
    assert.equal(native.status, 2, native.stderr);
    assert.equal(npm.status, 2, npm.stderr);
    assert.equal(npm.stderr, native.stderr);
    assert.equal(native.stderr.trimEnd().split('\n').length, 1, native.stderr);
    assert.match(native.stderr, /^error: /);
  });
}
