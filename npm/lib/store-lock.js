'use strict';
// One writer at a time in a store, the same protocol as the native host (host/src/store_lock.rs):
// `<store>/lock` holds the writer's process id while an export or a gc runs; a lock whose process
// is gone (killed) is taken over. Node has no flock, hence a lock file that appears whole (a hard link).
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

/** The lock's holder: undefined if there is no lock, NaN if its content is not a process id. */
function holder(file) {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
}

/** Wait for the store's lock and take it; resolves to a release function. */
async function acquireStoreLock(store) {
  fs.mkdirSync(store, { recursive: true });
  const file = path.join(store, 'lock');
  // The lock appears with its content at once (a hard link of a finished file): never seen empty.
  const mine = path.join(store, `lock.${process.pid}.tmp`);
  fs.writeFileSync(mine, `${process.pid}\n`);
  try {
    const started = Date.now();
    for (;;) {
      try {
        fs.linkSync(mine, file);
        return () => fs.rmSync(file, { force: true });
      } catch (err) {
        if (err.code !== 'EEXIST') throw hostError('store', `${file}: ${err.message}`);
      }
      const pid = holder(file);
      if (pid === undefined) continue; // released meanwhile: try again
      if (pid > 0 && alive(pid)) {
        if (Date.now() - started > GIVE_UP_MS) throw hostError('store', `the store ${store} is still locked by process ${pid}`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      } else if (Object.is(holder(file), pid)) {
        // Its process is gone (killed): take it over, unless someone just did.
        fs.rmSync(file, { force: true });
      }
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

module.exports = { acquireStoreLock };
