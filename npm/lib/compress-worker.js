'use strict';
// One compression thread of the pool (compress-pool.js): its own instance of the core. A piece comes
// in a shared buffer (its prefix, then its data) and its compressed bytes go back in the same
// buffer, or in a larger one when they do not fit: nothing is allocated per piece.
const { parentPort } = require('node:worker_threads');
const core = require('../wasm/outport.js');

parentPort.on('message', ({ id, algorithm, level, buffer, prefixLength, dataLength, last }) => {
  try {
    const input = new Uint8Array(buffer, 0, prefixLength + dataLength);
    // A view into the core's memory (valid until the next call into it), copied out at once.
    const compressed = core.compressPiece(algorithm, level, input.subarray(0, prefixLength), input.subarray(prefixLength), last);
    const grown = compressed.length > buffer.byteLength ? new SharedArrayBuffer(compressed.length) : undefined;
    new Uint8Array(grown ?? buffer, 0, compressed.length).set(compressed);
    parentPort.postMessage({ id, length: compressed.length, grown });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err?.message ?? err) });
  }
});
