'use strict';
// The Node host's HTTP failures carry a transport kind (wit/outport.wit's transport-kind): the core
// decides on retries and hints by it, never by the message's wording. Needs no wasm build.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { Transport, transportKind } = require('../lib/http.js');

const get = (url) => ({ method: 'GET', url, headers: [], body: null, insecure: false });

/** A TCP server running `onConnection`, for the duration of `body(port)`. */
async function withServer(server, body) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await body(server.address().port);
  } finally {
    server.close();
  }
}

async function failure(url) {
  const transport = new Transport();
  try {
    await transport.send(get(url), 1024, null);
    assert.fail(`${url} answered`);
  } catch (err) {
    return err;
  } finally {
    transport.close();
  }
}

test('a refused connection is connect, a dropped one reset, plain HTTP on https tls', async () => {
  const refused = await withServer(net.createServer(), async (port) => `http://127.0.0.1:${port}/v2/`);
  const err = await failure(refused);
  assert.equal(err.kind, 'registry');
  assert.equal(err.transport, 'connect');
  assert.match(err.message, /^GET http:\/\/127\.0\.0\.1:\d+\/v2\/: /);

  const hangUp = net.createServer((socket) => socket.destroy());
  assert.equal((await withServer(hangUp, (port) => failure(`http://127.0.0.1:${port}/v2/`))).transport, 'reset');

  const plain = http.createServer((_, response) => response.end('ok'));
  assert.equal((await withServer(plain, (port) => failure(`https://127.0.0.1:${port}/v2/`))).transport, 'plain-http', 'an HTTP answer to a TLS handshake');
});

test('Node and undici error codes map to transport kinds', () => {
  const cases = {
    ENOTFOUND: 'dns',
    ECONNREFUSED: 'connect',
    ETIMEDOUT: 'timeout',
    UND_ERR_HEADERS_TIMEOUT: 'timeout',
    ECONNRESET: 'reset',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate',
    ERR_TLS_CERT_ALTNAME_INVALID: 'certificate',
    ERR_SSL_WRONG_VERSION_NUMBER: 'plain-http',
    ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC: 'tls',
    EACCES: 'other',
  };
  for (const [code, kind] of Object.entries(cases)) assert.equal(transportKind({ code }), kind, code);
  assert.equal(transportKind({ cause: { code: 'ECONNREFUSED' } }), 'connect', 'fetch keeps the code on cause');
  assert.equal(transportKind(new Error('certificate has expired')), 'other', 'the wording decides nothing');
});
