'use strict';
// One compression thread of the pool (compress-pool.js): its own instance of the core. A piece comes
// in a shared buffer (the input before it, then its own from `start`) and its compressed bytes go
// back in the same buffer, or in a larger one when they do not fit: nothing is allocated per piece.
// It requires nothing but Node's modules and the core the pool names (workerData.core), so it runs
// as it is from a bundled program's assets too (lib/assets.js).
const { parentPort, workerData } = require('node:worker_threads');
const core = require(workerData.core);

parentPort.on('message', ({ id, algorithm, level, buffer, length, start, last }) => {
  try {
    // A view into the core's memory (valid until the next call into it), copied out at once.
    const compressed = core.compressPiece(algorithm, level, new Uint8Array(buffer, 0, length), start, last);
    const grown = compressed.length > buffer.byteLength ? new SharedArrayBuffer(compressed.length) : undefined;
    new Uint8Array(grown ?? buffer, 0, compressed.length).set(compressed);
    parentPort.postMessage({ id, length: compressed.length, grown });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err?.message ?? err) });
  }
});
