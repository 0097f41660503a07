'use strict';
// The local content store: an OCI-layout-shaped directory, blobs at blobs/sha256/<hex>. New blobs are
// written under ingest/ and renamed into place, so a blob never sits under its name half-written.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ioError, hostError } = require('./errors');

function defaultStoreDir() {
  if (process.env.OUTPORT_STORE) return process.env.OUTPORT_STORE;
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'outport', 'store');
}

/** The hex of a well-formed sha256 digest: digests become file names, so nothing else passes. */
function hexOf(digest) {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!match) throw hostError('internal', `invalid digest ${JSON.stringify(digest)}`);
  return match[1];
}

/** What tells a file apart from any rewrite of it: inode, size and change time (bigint stats). */
function fileIdentity(stats) {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.ctimeNs}`;
}

class Store {
  constructor(root) {
    this.root = root;
    this.writers = new Map();
    this.next = 0;
    // Blobs hashed in this run and found right, with the identity of the file hashed: an unchanged
    // blob is not hashed again (a cached re-export hashes each once).
    this.verified = new Map();
  }

  /** True if `digest` was verified in this run and its file is unchanged since. */
  isVerified(digest) {
    const known = this.verified.get(digest);
    if (known === undefined) return false;
    try {
      return fileIdentity(fs.statSync(this.blobPath(digest), { bigint: true })) === known;
    } catch {
      return false;
    }
  }

  /** Note a hash of the file open as `fd` that came out `actual`. */
  remember(digest, actual, fd) {
    if (actual === digest) this.verified.set(digest, fileIdentity(fs.fstatSync(fd, { bigint: true })));
    else this.verified.delete(digest);
  }

  blobPath(digest) {
    return path.join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  /** sha256 of the stored blob's bytes as they are now (node:crypto), or null if absent. */
  digest(digest) {
    const p = this.blobPath(digest);
    let fd;
    try {
      fd = fs.openSync(p, 'r');
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw ioError('store', p, err);
    }
    try {
      const hash = crypto.createHash('sha256');
      const buf = Buffer.allocUnsafe(4 << 20);
      if (this.isVerified(digest)) return digest;
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
      const actual = `sha256:${hash.digest('hex')}`;
      this.remember(digest, actual, fd);
      return actual;
    } catch (err) {
      throw ioError('store', p, err);
    } finally {
      fs.closeSync(fd);
    }
  }

  size(digest) {
    const p = this.blobPath(digest);
    try {
      return fs.statSync(p).size;
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw ioError('store', p, err);
    }
  }

  create() {
    const ingest = path.join(this.root, 'ingest');
    const temp = path.join(ingest, `${process.pid}-${++this.next}.tmp`);
    try {
      fs.mkdirSync(ingest, { recursive: true });
      this.writers.set(this.next, { fd: fs.openSync(temp, 'w'), temp });
    } catch (err) {
      throw ioError('store', temp, err);
    }
    return this.next;
  }

  write(handle, data) {
    const w = this.writer(handle);
    try {
      fs.writeSync(w.fd, data);
    } catch (err) {
      throw ioError('store', w.temp, err);
    }
  }

  commit(handle, digest) {
    const w = this.writer(handle);
    this.writers.delete(handle);
    const final = this.blobPath(digest);
    try {
      fs.fsyncSync(w.fd);
      fs.closeSync(w.fd);
      fs.mkdirSync(path.dirname(final), { recursive: true });
      fs.renameSync(w.temp, final);
    } catch (err) {
      fs.rmSync(w.temp, { force: true });
      throw ioError('store', final, err);
    }
  }

  abort(handle) {
    const w = this.writers.get(handle);
    if (!w) return;
    this.writers.delete(handle);
    fs.closeSync(w.fd);
    fs.rmSync(w.temp, { force: true });
  }

  read(digest, offset, max) {
    const p = this.blobPath(digest);
    try {
      const fd = fs.openSync(p, 'r');
      try {
        const buf = Buffer.allocUnsafe(max);
        const n = fs.readSync(fd, buf, 0, max, offset);
        return buf.subarray(0, n);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      throw ioError('store', p, err);
    }
  }

  /** Every blob under blobs/sha256/ whose name is a digest (anything else is not ours), sorted. */
  list() {
    const dir = path.join(this.root, 'blobs', 'sha256');
    let names;
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      if (err.code === 'ENOENT') return [];
      throw ioError('store', dir, err);
    }
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort().map((n) => `sha256:${n}`);
  }

  remove(digest) {
    const p = this.blobPath(digest);
    try {
      fs.unlinkSync(p);
    } catch (err) {
      throw ioError('store', p, err);
    }
  }

  /** <store>/unpacked/<hex>: where unpack=true extracts image `digest`. */
  unpackDir(digest) {
    const parent = path.join(this.root, 'unpacked');
    try {
      fs.mkdirSync(parent, { recursive: true });
    } catch (err) {
      throw ioError('store', parent, err);
    }
    return path.join(parent, hexOf(digest));
  }

  /** <store>/cache/<key>: a compression cache record (the core checks it before use). */
  cachePath(key) {
    if (!/^[0-9a-f]{64}$/.test(key)) throw hostError('internal', `invalid cache key ${JSON.stringify(key)}`);
    return path.join(this.root, 'cache', key);
  }

  readCache(key) {
    const p = this.cachePath(key);
    try {
      return fs.readFileSync(p);
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw ioError('store', p, err);
    }
  }

  writeCache(key, data) {
    const p = this.cachePath(key);
    const temp = path.join(path.dirname(p), `.${key}.${process.pid}.tmp`);
    try {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(temp, data);
      fs.renameSync(temp, p);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw ioError('store', p, err);
    }
  }

  readIndex() {
    const p = path.join(this.root, 'index.json');
    try {
      return fs.readFileSync(p);
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw ioError('store', p, err);
    }
  }

  /** Replace index.json atomically; oci-layout is written alongside so the store is an OCI layout. */
  writeIndex(data) {
    const files = [
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      ['index.json', data],
    ];
    for (const [name, bytes] of files) {
      const p = path.join(this.root, name);
      const temp = path.join(this.root, `.${name}.${process.pid}.tmp`);
      try {
        fs.mkdirSync(this.root, { recursive: true });
        fs.writeFileSync(temp, bytes);
        fs.renameSync(temp, p);
      } catch (err) {
        fs.rmSync(temp, { force: true });
        throw ioError('store', p, err);
      }
    }
  }

  /**
   * Temporary files no running process owns: each name carries its writer's PID (`ingest/PID-N.tmp`,
   * `.NAME.PID.tmp`, `cache/.KEY.PID.tmp`, `lock.PID.tmp`). Removed first when `remove` (gc, which
   * holds the store lock). The same rule as the native host (host/src/store/mod.rs).
   */
  temporaries(remove) {
    const found = [];
    for (const dir of ['', 'ingest', 'cache']) {
      const full = path.join(this.root, dir);
      let names;
      try {
        names = fs.readdirSync(full);
      } catch (err) {
        if (err.code === 'ENOENT') continue;
        throw ioError('store', full, err);
      }
      for (const name of names) {
        const pid = temporaryOwner(name);
        if (pid === null) continue;
        const file = path.join(full, name);
        let stat;
        try {
          stat = fs.lstatSync(file);
        } catch {
          continue;
        }
        if (!stat.isFile() || pidExists(pid)) continue;
        if (remove) fs.rmSync(file, { force: true });
        found.push([dir ? `${dir}/${name}` : name, stat.size]);
      }
    }
    return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  writer(handle) {
    const w = this.writers.get(handle);
    if (!w) throw hostError('internal', `blob handle ${handle} is not open`);
    return w;
  }
}

/** The PID in a temporary file's name (`PID-N.tmp`, `.NAME.PID.tmp`, `lock.PID.tmp`), else null. */
function temporaryOwner(name) {
  if (!name.endsWith('.tmp')) return null;
  const stem = name.slice(0, -4);
  const ingest = /^(\d+)-\d+$/.exec(stem);
  const digits = ingest ? ingest[1] : stem.slice(stem.lastIndexOf('.') + 1);
  return /^\d+$/.test(digits) && Number(digits) > 0 ? Number(digits) : null;
}

function pidExists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

module.exports = { Store, defaultStoreDir, pidExists };
