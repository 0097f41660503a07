'use strict';
// HTTP for the core's registry protocol, with Node's fetch (undici): one request per call,
// redirects returned (never followed), blob bodies streamed from the store.
const fs = require('node:fs');
const { Readable } = require('node:stream');
const { hostError, ioError } = require('./errors');

function body(request, store) {
  if (request.body === null || request.body === undefined) return undefined;
  if (request.body instanceof Uint8Array) return request.body;
  // A stored blob: opened now, so a missing blob is a store error (never retried) as in the native
  // host, then streamed, never held whole in memory.
  const file = store.blobPath(request.body.blob);
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw ioError('store', file, err);
  }
  return Readable.toWeb(fs.createReadStream(null, { fd }));
}

/** Read at most `max` bytes of a response body, discarding the rest. */
async function readBounded(response, max) {
  const chunks = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      if (total < max) chunks.push(Buffer.from(chunk).subarray(0, max - total));
      total += chunk.length;
    }
  }
  return new Uint8Array(Buffer.concat(chunks));
}

async function send(request, maxBody, store) {
  const shown = `${request.method} ${request.url.split('?')[0]}`;
  // Transport failures, also while reading the body, are registry errors: the core retries those.
  const failed = (err) => hostError('registry', `${shown}: ${err.cause?.message ?? err.message}`);
  const payload = body(request, store);
  let response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: payload,
      redirect: 'manual',
      ...(payload && !(payload instanceof Uint8Array) ? { duplex: 'half' } : {}),
    });
  } catch (err) {
    throw failed(err);
  }
  try {
    return { status: response.status, headers: [...response.headers.entries()], body: await readBounded(response, maxBody) };
  } catch (err) {
    throw failed(err);
  }
}

module.exports = { send };
