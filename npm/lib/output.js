'use strict';
// Output files: written under a hidden temporary name beside the destination and renamed on
// commit, so an interrupted export never leaves a half-written file at dest.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ioError, hostError } = require('./errors');

const COPY_CHUNK = 1 << 20;

// Outputs with files still open: one exit listener for all of them removes their temporaries if the
// process exits mid-export (a listener per host would pile up across exportImage calls).
const unfinished = new Set();
process.once('exit', () => unfinished.forEach((outputs) => outputs.removeTemporaries()));

/** Write all of `data` to fd, retrying when a non-blocking stdout pipe is full. */
function writeAll(fd, data) {
  let done = 0;
  while (done < data.length) {
    try {
      done += fs.writeSync(fd, data, done, data.length - done);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/**
 * `temp` as a copy-on-write clone of `source` (btrfs, XFS), else a hard link to it (the store never
 * writes a blob again in place); false when neither works (another file system).
 */
function linkOrClone(source, temp) {
  try {
    fs.copyFileSync(source, temp, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    fs.rmSync(temp, { force: true });
  }
  try {
    fs.linkSync(source, temp);
    return true;
  } catch {
    return false;
  }
}

function lstat(p) {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    throw ioError('output', p, err);
  }
}

/** [device, inode] of what is at `p`, symlinks followed, as source entries report them; null if absent. */
function identity(p) {
  try {
    const stat = fs.statSync(p);
    return [stat.dev, stat.ino];
  } catch {
    return null;
  }
}

class Outputs {
  constructor() {
    this.open = new Map();
    this.next = 0;
  }

  openFile(dest) {
    let target;
    if (dest === '-') {
      if (process.stdout.isTTY) {
        throw hostError('output', 'dest file is required for the output: refusing to write to a terminal');
      }
      target = { fd: 1, stdout: true, name: '<stdout>' };
    } else {
      if (isDirectory(dest)) throw hostError('output', `destination file ${dest} is a directory`);
      const temp = this.tempFor(dest);
      try {
        target = { fd: fs.openSync(temp, 'w'), temp, dest, name: temp };
      } catch (err) {
        throw ioError('output', temp, err);
      }
    }
    this.open.set(++this.next, target);
    unfinished.add(this);
    return this.next;
  }

  /** A new hidden temporary name beside `dest`, whose parent must exist. */
  tempFor(dest) {
    const parent = path.dirname(dest);
    if (!isDirectory(parent)) throw hostError('output', `${dest}: parent directory ${parent} does not exist`);
    return path.join(parent, `.${path.basename(dest)}.outport-${process.pid}-${++this.next}.tmp`);
  }

  write(handle, data) {
    const t = this.target(handle);
    try {
      writeAll(t.fd, data);
    } catch (err) {
      throw ioError('output', t.name, err);
    }
  }

  /**
   * Put a stored blob at `dest` as a whole file (an OCI layout's blobs/): a reflink or hard link to
   * the store's file where both share a file system, else a copy. The digest is checked either way,
   * once per run for an unchanged blob. Returns the blob's size.
   */
  placeBlob(dest, store, digest) {
    const source = store.blobPath(digest);
    const actual = store.digest(digest);
    if (actual === null) throw hostError('store', `blob ${digest} is not in the store`);
    if (actual !== digest) {
      throw hostError('store', `blob ${digest} in the store is corrupt (${source} has content ${actual})`);
    }
    if (isDirectory(dest)) throw hostError('output', `destination file ${dest} is a directory`);
    const temp = this.tempFor(dest);
    if (linkOrClone(source, temp)) {
      try {
        const { size } = fs.statSync(temp);
        fs.renameSync(temp, dest);
        return size;
      } catch (err) {
        fs.rmSync(temp, { force: true });
        throw ioError('output', dest, err);
      }
    }
    const handle = this.openFile(dest);
    try {
      const size = this.writeBlob(handle, store, digest);
      this.commit(handle);
      return size;
    } catch (err) {
      this.abort(handle);
      throw err;
    }
  }

  /** Stream a stored blob into the output, verifying its digest on the way (unless this run verified the unchanged file already). */
  writeBlob(handle, store, digest) {
    const blobPath = store.blobPath(digest);
    const verified = store.isVerified(digest);
    const hash = crypto.createHash('sha256');
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    let total = 0;
    let fd;
    try {
      fd = fs.openSync(blobPath, 'r');
    } catch (err) {
      throw ioError('store', blobPath, err);
    }
    try {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, COPY_CHUNK, null);
        if (n === 0) break;
        const piece = buf.subarray(0, n);
        if (!verified) hash.update(piece);
        this.write(handle, piece);
        total += n;
      }
      if (!verified) {
        const actual = `sha256:${hash.digest('hex')}`;
        store.remember(digest, actual, fd);
        if (actual !== digest) {
          throw hostError('store', `blob ${digest} in the store is corrupt (${blobPath} has content ${actual})`);
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return total;
  }

  commit(handle) {
    const t = this.target(handle);
    this.release(handle);
    if (t.stdout) return;
    try {
      fs.fsyncSync(t.fd);
      fs.closeSync(t.fd);
      fs.renameSync(t.temp, t.dest);
    } catch (err) {
      fs.rmSync(t.temp, { force: true });
      throw ioError('output', t.dest, err);
    }
  }

  abort(handle) {
    const t = this.release(handle);
    if (t && !t.stdout) {
      fs.closeSync(t.fd);
      fs.rmSync(t.temp, { force: true });
    }
  }

  /** Whatever was not committed (e.g. the process is exiting on an error) is removed. */
  removeTemporaries() {
    for (const handle of [...this.open.keys()]) this.abort(handle);
    // A staged directory still here was not moved into place: the run failed.
    for (const stage of this.staged ?? []) fs.rmSync(stage, { recursive: true, force: true });
    this.staged = new Set();
    unfinished.delete(this);
  }

  /** Stop tracking `handle`; with nothing left open there is nothing to clean up at exit. */
  release(handle) {
    const t = this.open.get(handle);
    this.open.delete(handle);
    if (this.open.size === 0 && !this.staged?.size) unfinished.delete(this);
    return t;
  }

  /**
   * A new, empty, hidden directory beside `dest` to build a directory output in (see output-stage-dir
   * in the WIT); `dest`'s missing parents are created first, as buildx creates them for type=local.
   */
  stageDir(dest) {
    const parent = path.dirname(dest);
    try {
      fs.mkdirSync(parent, { recursive: true });
    } catch (err) {
      throw ioError('output', parent, err);
    }
    let stat;
    try {
      stat = fs.statSync(dest);
    } catch {}
    if (stat && !stat.isDirectory()) throw hostError('output', `destination directory ${dest} is a file`);
    const stage = path.join(parent, `.${path.basename(dest)}.outport-${process.pid}-${++this.next}.tmp`);
    try {
      fs.mkdirSync(stage);
    } catch (err) {
      throw ioError('output', stage, err);
    }
    this.staged ??= new Set();
    this.staged.add(stage);
    unfinished.add(this);
    return stage;
  }

  /** Move a staged entry into place (output-move in the WIT): false when both are directories. */
  move(from, to, intoLink) {
    const fromDir = lstat(from).isDirectory();
    let target;
    try {
      target = fs.lstatSync(to);
    } catch (err) {
      if (err.code !== 'ENOENT') throw ioError('output', to, err);
    }
    if (target) {
      if (target.isDirectory() && fromDir) return false;
      if (target.isSymbolicLink() && intoLink && fromDir && isDirectory(to)) return false;
      if (intoLink && fromDir && !target.isSymbolicLink()) throw hostError('output', `destination directory ${to} is a file`);
      // A file over a file is one atomic rename; anything else goes first.
      if (target.isDirectory() || fromDir) {
        try {
          fs.rmSync(to, { recursive: true, force: true });
        } catch (err) {
          throw ioError('output', to, err);
        }
      }
    }
    try {
      fs.renameSync(from, to);
    } catch (err) {
      throw ioError('output', to, err);
    }
    this.staged?.delete(from);
    return true;
  }

  target(handle) {
    const t = this.open.get(handle);
    if (!t) throw hostError('internal', `output handle ${handle} is not open`);
    return t;
  }
}

function isDirectory(p) {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Create one directory (its parent must exist); an existing directory is fine. */
function mkdir(dir) {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if (err.code !== 'EEXIST') throw ioError('output', dir, err);
    if (!isDirectory(dir)) throw hostError('output', `destination directory ${dir} is a file`);
  }
}

function readWhole(file) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw ioError('output', file, err);
  }
}

module.exports = { Outputs, mkdir, readWhole, identity };
