'use strict';
// One compression thread of the pool (compress-pool.js): its own instance of the core.
const { parentPort } = require('node:worker_threads');
const core = require('../wasm/outport.js');

parentPort.on('message', ({ id, piece }) => {
  try {
    const bytes = core.compressPiece(piece.algorithm, piece.level, piece.prefix, piece.data, piece.last);
    parentPort.postMessage({ id, bytes }, [bytes.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err?.message ?? err) });
  }
});
