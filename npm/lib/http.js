'use strict';
// HTTP for the core's registry protocol, with Node's fetch (undici): one request per call,
// redirects returned (never followed), blob bodies streamed from the store.
const fs = require('node:fs');
const { Readable } = require('node:stream');
const { hostError } = require('./errors');

function body(request, store) {
  if (request.body === null || request.body === undefined) return undefined;
  if (request.body instanceof Uint8Array) return request.body;
  // A stored blob: streamed, never held whole in memory.
  return Readable.toWeb(fs.createReadStream(store.blobPath(request.body.blob)));
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
  let response;
  try {
    const payload = body(request, store);
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: payload,
      redirect: 'manual',
      ...(payload && !(payload instanceof Uint8Array) ? { duplex: 'half' } : {}),
    });
  } catch (err) {
    throw hostError('registry', `${shown}: ${err.cause?.message ?? err.message}`);
  }
  return {
    status: response.status,
    headers: [...response.headers.entries()],
    body: await readBounded(response, maxBody),
  };
}

module.exports = { send };
