'use strict';
// Layer pieces compressed on worker threads, each with its own instance of the core (its
// compressPiece export), so one big layer compresses on every core. The core decides the pieces
// and their order; the pool only runs them, so the bytes do not depend on the thread count.
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { hostError } = require('./errors');

/** Threads by default: one per CPU up to 4 (each holds a core instance with its own match tables). */
function defaultThreads() {
  const fromEnv = Number.parseInt(process.env.OUTPORT_THREADS ?? '', 10);
  if (fromEnv >= 0) return fromEnv;
  return Math.min(os.availableParallelism?.() ?? os.cpus().length, 4);
}

class CompressPool {
  /** `threads`: 0 leaves compression to the core's own thread. */
  constructor(threads = defaultThreads()) {
    this.threads = threads;
    this.workers = [];
    this.jobs = new Map();
    this.next = 1;
    this.turn = 0;
  }

  /** Start compressing `piece` ({ algorithm, level, prefix, data, last }); returns a handle. */
  start(piece) {
    if (this.workers.length === 0) this.spawn();
    const id = this.next++;
    const job = {};
    job.done = new Promise((resolve, reject) => Object.assign(job, { resolve, reject }));
    this.jobs.set(id, job);
    const worker = this.workers[this.turn++ % this.workers.length];
    // A worker with work keeps the process alive; an idle one must not.
    if (worker.outstanding++ === 0) worker.ref();
    worker.postMessage({ id, piece }, [piece.prefix.buffer, piece.data.buffer].filter((b, i, all) => all.indexOf(b) === i));
    return id;
  }

  /** The compressed bytes of a started piece. */
  async wait(id) {
    const job = this.jobs.get(id);
    if (!job) throw hostError('internal', `no compression job ${id}`);
    try {
      return await job.done;
    } finally {
      this.jobs.delete(id);
    }
  }

  spawn() {
    for (let i = 0; i < Math.max(this.threads, 1); i++) {
      const worker = new Worker(path.join(__dirname, 'compress-worker.js'));
      worker.outstanding = 0;
      worker.on('message', ({ id, bytes, error }) => {
        if (--worker.outstanding === 0) worker.unref();
        const job = this.jobs.get(id);
        if (!job) return;
        if (error) job.reject(hostError('internal', `compressing a layer piece: ${error}`));
        else job.resolve(bytes);
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
