'use strict';
// One writer at a time in a store, the same protocol as the native host (host/src/store/lock.rs):
// `<store>/lock` names the writer as `PID START HOST` (process id, its start time in clock ticks
// since boot from /proc/PID/stat, host name) while an export or a gc runs. A lock whose holder is
// gone is taken over; one whose PID now belongs to another process (PID reuse, PID 1 in a container)
// is gone too, as the start time differs. A lock from another machine cannot be checked: it is
// waited for until OUTPORT_LOCK_TIMEOUT. Node has no flock, hence a lock file that appears whole
// (a hard link).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { hostError, ioError } = require('./errors');
const { pidExists } = require('./store');

const POLL_MS = 100;
const DEFAULT_TIMEOUT_S = 300;

/** The process's start time (clock ticks since boot), or null where /proc does not tell. */
function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const value = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19];
    return /^\d+$/.test(value ?? '') ? value : null;
  } catch {
    return null;
  }
}

const hostName = () => (/^\S+$/.test(os.hostname()) ? os.hostname() : '-');

/** The lock's holder: undefined if there is no lock, null if its content names no process. */
function holder(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const [pid, start, host] = text.trim().split(/\s+/);
  if (!/^\d+$/.test(pid ?? '')) return null;
  return { pid: Number(pid), start: start && start !== '0' ? start : null, host: host && host !== '-' ? host : null, text };
}

function alive({ pid, start, host }) {
  if (host && host !== hostName()) return true;
  if (!(pid > 0) || !pidExists(pid)) return false;
  const now = startTime(pid);
  return !(start && now) || start === now;
}

const describe = ({ pid, host }) => (host ? `process ${pid} on ${host}` : `process ${pid}`);

function timeoutMs() {
  const raw = process.env.OUTPORT_LOCK_TIMEOUT;
  if (raw === undefined || raw.trim() === '') return DEFAULT_TIMEOUT_S * 1000;
  if (!/^\d+$/.test(raw.trim())) throw hostError('store', `OUTPORT_LOCK_TIMEOUT=${raw}: expected a whole number of seconds`);
  return Number(raw.trim()) * 1000;
}

/**
 * Create the store directory, naming the real reason when it cannot be (recursive mkdir reports a
 * read-only file system as ENOENT of the missing part).
 */
function makeStoreDir(store) {
  try {
    fs.mkdirSync(store, { recursive: true });
  } catch (err) {
    let existing = path.resolve(store);
    while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
    let reason = err;
    try {
      fs.accessSync(existing, fs.constants.W_OK);
    } catch (access) {
      reason = access;
    }
    if (reason === err) {
      try {
        // Read-only mounts pass access(W_OK) for root: try the real thing.
        fs.mkdirSync(path.join(existing, `.outport-probe-${process.pid}`));
        fs.rmdirSync(path.join(existing, `.outport-probe-${process.pid}`));
      } catch (probe) {
        reason = probe;
      }
    }
    throw ioError('store', store, reason);
  }
}

/** Wait for the store's lock and take it; resolves to a release function. */
async function acquireStoreLock(store) {
  const timeout = timeoutMs();
  makeStoreDir(store);
  const file = path.join(store, 'lock');
  // The lock appears with its content at once (a hard link of a finished file): never seen empty.
  const mine = path.join(store, `lock.${process.pid}.tmp`);
  fs.writeFileSync(mine, `${process.pid} ${startTime(process.pid) ?? 0} ${hostName()}\n`);
  try {
    const started = Date.now();
    let said = false;
    for (;;) {
      try {
        fs.linkSync(mine, file);
        return () => fs.rmSync(file, { force: true });
      } catch (err) {
        if (err.code !== 'EEXIST') throw hostError('store', `${file}: ${err.message}`);
      }
      let stat;
      try {
        stat = fs.lstatSync(file);
      } catch {}
      if (stat && !stat.isFile()) {
        throw hostError('store', `the store lock ${file} is not a regular file: remove it (rm -r ${file}) if no outport process uses the store`);
      }
      const found = holder(file);
      if (found === undefined) continue; // released meanwhile: try again
      if (found && alive(found)) {
        if (Date.now() - started >= timeout) {
          throw hostError(
            'store',
            `the store ${store} is still locked by ${describe(found)} after ${timeout / 1000} s (OUTPORT_LOCK_TIMEOUT): if no outport process uses the store, remove ${file}`,
          );
        }
        if (!said) {
          process.stderr.write(`waiting for the store ${store}: locked by ${describe(found)}\n`);
          said = true;
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      } else if (holder(file)?.text === found?.text) {
        // Its process is gone (killed), or the content names no process: take it over, unless
        // someone just did.
        fs.rmSync(file, { force: true });
      }
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

module.exports = { acquireStoreLock };
