'use strict';
// Byte streams to Docker-API engines for `load` (see engine-connect in wit/outport.wit): a unix
// socket or TCP (node:net), TLS with the docker CLI's ca.pem/cert.pem/key.pem (node:tls), or
// `ssh … docker system dial-stdio`. The core speaks HTTP over them (src/engine/).
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const { spawn } = require('node:child_process');
const { hostError } = require('./errors');

/** One connection: what arrived and not yet read, and whether the stream ended. */
class Connection {
  constructor(readable, writable, close) {
    this.chunks = [];
    this.ended = false;
    this.error = null;
    this.waiting = null;
    this.writable = writable;
    this.closeStream = close;
    readable.on('data', (data) => {
      this.chunks.push(data);
      this.wake();
    });
    readable.on('end', () => {
      this.ended = true;
      this.wake();
    });
    const fail = (err) => {
      this.error ??= err;
      this.wake();
    };
    readable.on('error', fail);
    writable.on('error', fail);
  }

  wake() {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  async read(max) {
    while (this.chunks.length === 0 && !this.ended) {
      if (this.error) throw hostError('output', `reading from the engine: ${this.error.message}`);
      await new Promise((resolve) => (this.waiting = resolve));
    }
    if (this.chunks.length === 0) return new Uint8Array(0);
    const first = this.chunks[0];
    if (first.length <= max) return new Uint8Array(this.chunks.shift());
    this.chunks[0] = first.subarray(max);
    return new Uint8Array(first.subarray(0, max));
  }

  /** `data` is a view of the core's memory: copied before anything awaits. */
  async write(data) {
    if (this.error) throw hostError('output', `sending to the engine: ${this.error.message}`);
    const copy = Buffer.from(data);
    await new Promise((resolve, reject) => {
      this.writable.write(copy, (err) => (err ? reject(hostError('output', `sending to the engine: ${err.message}`)) : resolve()));
    });
  }

  close() {
    this.closeStream();
  }
}

function connected(socket, what) {
  return new Promise((resolve, reject) => {
    const event = socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    socket.once(event, () => resolve(socket));
    socket.once('error', (err) => reject(hostError('output', `${what}: ${err.message}`)));
  });
}

function splitHostPort(address) {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

class Engines {
  constructor() {
    this.open = new Map();
    this.next = 0;
  }

  async connect(scheme, address, certDir) {
    let connection;
    if (scheme === 'unix' || scheme === 'tcp') {
      const socket = scheme === 'unix' ? net.createConnection({ path: address }) : net.createConnection(splitHostPort(address));
      await connected(socket, address);
      connection = new Connection(socket, socket, () => socket.destroy());
    } else if (scheme === 'tls') {
      const read = (name) => (certDir && fs.existsSync(path.join(certDir, name)) ? fs.readFileSync(path.join(certDir, name)) : undefined);
      const { host, port } = splitHostPort(address);
      const socket = tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') });
      await connected(socket, address);
      connection = new Connection(socket, socket, () => socket.destroy());
    } else if (scheme === 'ssh') {
      const rest = address.replace(/^ssh:\/\//, '').replace(/\/$/, '');
      const match = /^(.*):(\d+)$/.exec(rest);
      const args = [...(match ? ['-p', match[2]] : []), '-o', 'ConnectTimeout=30', '-T', '--', match ? match[1] : rest, 'docker', 'system', 'dial-stdio'];
      const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'inherit'] });
      await new Promise((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) => reject(hostError('output', `ssh: ${err.message}`)));
      });
      connection = new Connection(child.stdout, child.stdin, () => child.kill());
    } else {
      throw hostError('output', `unknown engine scheme ${JSON.stringify(scheme)}`);
    }
    this.open.set(++this.next, connection);
    return this.next;
  }

  get(handle) {
    const connection = this.open.get(handle);
    if (!connection) throw hostError('internal', `engine handle ${handle} is not open`);
    return connection;
  }

  close(handle) {
    this.open.get(handle)?.close();
    this.open.delete(handle);
  }

  closeAll() {
    for (const handle of [...this.open.keys()]) this.close(handle);
  }
}

/** What the core finds the engine by; DOCKER_CONFIG resolved to the directory the docker CLI reads. */
function engineEnv() {
  const env = {};
  for (const name of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'XDG_RUNTIME_DIR']) {
    if (process.env[name]) env[name] = process.env[name];
  }
  const config = process.env.DOCKER_CONFIG || (process.env.HOME ? path.join(process.env.HOME, '.docker') : undefined);
  if (config) env.DOCKER_CONFIG = config;
  return env;
}

module.exports = { Engines, engineEnv };
