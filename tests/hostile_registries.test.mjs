// The npm host against registries that misbehave on purpose (host/tests/hostile_registries.rs does the
// same with the native CLI): endless answers are cut off at the core's limit, trickling ones time out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..');
const rootfs = path.join(repo, 'examples', 'rootfs');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));

/** A raw TCP server: `handle(requestLine, socket)`; TLS ClientHellos are dropped at once. */
async function serve(handle) {
  const server = net.createServer((socket) => {
    let head = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', function onData(data) {
      head = Buffer.concat([head, data]);
      if (head[0] === 0x16) return socket.destroy();
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      handle(head.toString('latin1').split('\r\n')[0], socket);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { addr: `127.0.0.1:${server.address().port}`, close: () => { server.close(); } };
}

function trickle(socket, bytes, everyMs) {
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer);
    socket.write(bytes);
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

async function exportOnBase(registry) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outport-hostile-'));
  const dest = path.join(work, 'out.tar');
  process.env.OUTPORT_HTTP_TIMEOUT = '1';
  const started = Date.now();
  try {
    await assert.rejects(
      exportImage({ rootfs, base: `${registry.addr}/base:1`, baseInsecure: true, outputs: [`type=oci,dest=${dest}`], store: path.join(work, 'store') }),
      (err) => { registry.error = err.message; return true; },
    );
  } finally {
    delete process.env.OUTPORT_HTTP_TIMEOUT;
    registry.close();
  }
  assert.ok(!fs.existsSync(dest), 'no output left behind');
  return { message: registry.error, seconds: (Date.now() - started) / 1000 };
}

test('npm: an endless manifest is cut off at the limit', async () => {
  const registry = await serve((line, socket) => {
    if (line.startsWith('GET /v2/ ')) return socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `10000\r\n${' '.repeat(0x10000)}\r\n`;
    const pump = () => { while (!socket.destroyed && socket.write(chunk)); };
    socket.on('drain', pump);
    pump();
  });
  const { message, seconds } = await exportOnBase(registry);
  assert.match(message, /larger than 4194304 bytes/);
  assert.ok(seconds < 30, `took ${seconds} s`);
});

test('npm: trickling answers time out, with bounded retries', async () => {
  const registry = await serve((line, socket) => {
    if (line.startsWith('GET /v2/ ')) return socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
    trickle(socket, ' ', 300);
  });
  const { message, seconds } = await exportOnBase(registry);
  assert.match(message, /timeout/);
  assert.match(message, new RegExp(registry.addr.replace(/\./g, '\\.')));
  assert.ok(seconds < 60, `took ${seconds} s`);
});
