'use strict';
// Layer pieces compressed on worker threads, each with its own instance of the core (its
// compressPiece export), so one big layer compresses on every core. The core decides the pieces
// and their order; the pool only runs them, so the bytes do not depend on the thread count.
const os = require('node:os');
const { Worker } = require('node:worker_threads');
const { hostError } = require('./errors');
const { assetPath } = require('./assets');

/** Threads by default: one per CPU up to 4 (each holds a core instance with its own match tables). */
function defaultThreads() {
  const fromEnv = Number.parseInt(process.env.OUTPORT_THREADS ?? '', 10);
  if (fromEnv >= 0) return fromEnv;
  return Math.min(os.availableParallelism?.() ?? os.cpus().length, 4);
}

class CompressPool {
  /**
   * `threads`: 0 leaves compression to the core's own thread. `assetDir`: where the worker script
   * and the core are when not in the package (lib/assets.js).
   */
  constructor(threads = defaultThreads(), assetDir = undefined) {
    this.threads = threads;
    this.assetDir = assetDir;
    this.workers = [];
    this.jobs = new Map();
    this.next = 1;
    this.turn = 0;
    this.free = [];
    this.returned = [];
  }

  /**
   * Start compressing `piece` ({ algorithm, level, input, start, last }); returns a handle. The
   * piece's bytes are copied into one of the pool's shared buffers before this returns (the core
   * hands a view of its own memory), and the result comes back in that buffer.
   */
  start(piece) {
    if (this.workers.length === 0) this.spawn();
    this.releaseReturned();
    const id = this.next++;
    const slot = this.takeSlot(piece.input.length);
    new Uint8Array(slot.buffer).set(piece.input);
    const job = { slot };
    job.done = new Promise((resolve, reject) => Object.assign(job, { resolve, reject }));
    this.jobs.set(id, job);
    const worker = this.workers[this.turn++ % this.workers.length];
    // A worker with work keeps the process alive; an idle one must not.
    if (worker.outstanding++ === 0) worker.ref();
    const { algorithm, level, start, last } = piece;
    worker.postMessage({ id, algorithm, level, buffer: slot.buffer, length: piece.input.length, start, last });
    return id;
  }

  /**
   * The compressed bytes of a started piece: a view of its shared buffer, valid until the next call
   * into the pool (the core copies it at once, and only then calls again).
   */
  async wait(id) {
    this.releaseReturned();
    const job = this.jobs.get(id);
    if (!job) throw hostError('internal', `no compression job ${id}`);
    try {
      const length = await job.done;
      return new Uint8Array(job.slot.buffer, 0, length);
    } finally {
      this.jobs.delete(id);
      this.returned.push(job.slot);
    }
  }

  /** A free shared buffer of at least `size` bytes (buffers are kept and reused: one per piece in flight). */
  takeSlot(size) {
    const index = this.free.findIndex((slot) => slot.buffer.byteLength >= size);
    if (index >= 0) return this.free.splice(index, 1)[0];
    // None is big enough: replace the smallest (or add one), sized for this piece and a bit more.
    this.free.sort((a, b) => a.buffer.byteLength - b.buffer.byteLength).shift();
    return { buffer: new SharedArrayBuffer(size + (size >> 4) + 1024) };
  }

  /** Buffers whose results the core has taken (it has called the pool again since). */
  releaseReturned() {
    this.free.push(...this.returned);
    this.returned = [];
  }

  spawn() {
    const script = assetPath('compress-worker.js', this.assetDir);
    const workerData = { core: assetPath('outport.js', this.assetDir) };
    for (let i = 0; i < Math.max(this.threads, 1); i++) {
      const worker = new Worker(script, { workerData });
      worker.outstanding = 0;
      worker.on('message', ({ id, length, grown, error }) => {
        if (--worker.outstanding === 0) worker.unref();
        const job = this.jobs.get(id);
        if (!job) return;
        if (grown) job.slot.buffer = grown;
        if (error) job.reject(hostError('internal', `compressing a layer piece: ${error}`));
        else job.resolve(length);
      });
      worker.on('error', (err) => {
        for (const job of this.jobs.values()) job.reject(hostError('internal', `a compression thread failed: ${err.message}`));
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  close() {
    for (const worker of this.workers) worker.terminate();
    this.workers = [];
  }
}

module.exports = { CompressPool, defaultThreads };
