'use strict';
// One writer at a time in a store, the same protocol as the native host (host/src/store_lock.rs):
// `<store>/lock` holds the writer's process id while an export or a gc runs; a lock whose process
// is gone (killed) is taken over. Node has no flock, hence a lock file created exclusively.
const fs = require('node:fs');
const path = require('node:path');
const { hostError } = require('./errors');

const POLL_MS = 100;
const GIVE_UP_MS = 600_000;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Wait for the store's lock and take it; resolves to a release function. */
async function acquireStoreLock(store) {
  fs.mkdirSync(store, { recursive: true });
  const file = path.join(store, 'lock');
  const started = Date.now();
  for (;;) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw hostError('store', `${file}: ${err.message}`);
    }
    let holder = NaN;
    try {
      holder = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    } catch {}
    if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
      if (Date.now() - started > GIVE_UP_MS) throw hostError('store', `the store ${store} is still locked by process ${holder}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    } else if (!Number.isInteger(holder) && Date.now() - started < POLL_MS) {
      // Caught half-written: one poll of grace before it counts as stale.
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    } else {
      fs.rmSync(file, { force: true });
    }
  }
}

module.exports = { acquireStoreLock };
