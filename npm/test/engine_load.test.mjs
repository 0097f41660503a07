// npm `load: true` and `outputs: [{ type: 'docker' }]` load into a real Docker-API engine: Podman's
// compatible service, started here on a private socket (the native CLI's tests:
// host/tests/engine_load.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportImage } from '../lib/index.mjs';

const rootfs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'rootfs');
const isRoot = process.getuid?.() === 0;

async function startPodman() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-podman-'));
  const socket = path.join(dir, 'podman.sock');
  const child = spawn('podman', ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs', 'system', 'service', '--time=0', `unix://${socket}`], { stdio: 'ignore' });
  const get = (p) => {
    const out = spawnSync('curl', ['-sf', '--unix-socket', socket, `http://d/v1.41${p}`], { encoding: 'utf8' });
    return out.status === 0 ? out.stdout : null;
  };
  const started = Date.now();
  while (get('/_ping') === null) {
    assert.ok(Date.now() - started < 30_000, "podman's service did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `unix://${socket}`, get, stop: () => child.kill() };
}

test('npm: load and a docker output without dest go into the engine', { skip: !isRoot && "podman's service runs as root here" }, async () => {
  const podman = await startPodman();
  try {
    const store = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-load-'));
    const meta = await exportImage({ rootfs, store, load: true, tags: ['npmload:1'], dockerHost: podman.address, config: { env: ['FROM_NPM=1'] } });
    const image = JSON.parse(podman.get('/images/npmload:1/json'));
    assert.equal(image.Id, meta['containerimage.config.digest']);
    assert.ok(image.Config.Env.includes('FROM_NPM=1'));

    const previous = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = podman.address;
    try {
      const typed = await exportImage({ rootfs, store, outputs: [{ type: 'docker', name: 'npmload:2' }] });
      assert.equal(JSON.parse(podman.get('/images/npmload:2/json')).Id, typed['containerimage.config.digest']);
    } finally {
      if (previous === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = previous;
    }
    await assert.rejects(exportImage({ rootfs, store, load: true, dockerHost: 'unix:///nonexistent/outport.sock' }), /cannot reach the Docker engine at unix:\/\/\/nonexistent\/outport\.sock/);
  } finally {
    podman.stop();
  }
});
