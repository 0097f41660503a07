'use strict';
// The source tree, read with lstat (symlinks described, never followed). Paths and names are raw
// bytes (Buffers), so names that are not UTF-8 survive.
const fs = require('node:fs');
const path = require('node:path');
const { ioError, hostError } = require('./errors');

function kindOf(stat) {
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isDirectory()) return 'directory';
  if (stat.isFile()) return 'regular';
  if (stat.isCharacterDevice()) return 'char-device';
  if (stat.isBlockDevice()) return 'block-device';
  if (stat.isFIFO()) return 'fifo';
  return 'socket';
}

// glibc's gnu_dev_major / gnu_dev_minor, on BigInt rdev.
const major = (rdev) => Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
const minor = (rdev) => Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));

/** Whole seconds, rounded down like the kernel's tv_sec (also before 1970). */
function seconds(ns) {
  const s = ns / 1_000_000_000n;
  return ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s;
}

function entry(fullPath, name) {
  let stat;
  try {
    stat = fs.lstatSync(fullPath, { bigint: true });
  } catch (err) {
    throw ioError('source', fullPath.toString(), err);
  }
  const kind = kindOf(stat);
  const device = kind === 'char-device' || kind === 'block-device';
  let linkTarget = Buffer.alloc(0);
  if (kind === 'symlink') {
    try {
      linkTarget = fs.readlinkSync(fullPath, { encoding: 'buffer' });
    } catch (err) {
      throw ioError('source', fullPath.toString(), err);
    }
  }
  return {
    name,
    kind,
    mode: Number(stat.mode & 0o7777n),
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    size: kind === 'regular' ? stat.size : 0n,
    mtime: seconds(stat.mtimeNs),
    linkTarget,
    devMajor: device ? major(stat.rdev) : 0,
    devMinor: device ? minor(stat.rdev) : 0,
    device: stat.dev,
    inode: stat.ino,
    nlink: stat.nlink,
    changeTimeNs: stat.ctimeNs,
  };
}

class Source {
  constructor() {
    this.files = new Map();
    this.next = 0;
  }

  stat(pathBytes) {
    const full = Buffer.from(pathBytes);
    return entry(full, Buffer.from(path.basename(full.toString('latin1')), 'latin1'));
  }

  readDir(pathBytes) {
    const dir = Buffer.from(pathBytes);
    let names;
    try {
      names = fs.readdirSync(dir, { encoding: 'buffer' });
    } catch (err) {
      throw ioError('source', dir.toString(), err);
    }
    return names.map((name) => entry(Buffer.concat([dir, Buffer.from('/'), name]), name));
  }

  open(pathBytes) {
    const full = Buffer.from(pathBytes);
    let fd;
    try {
      fd = fs.openSync(full, 'r');
    } catch (err) {
      throw ioError('source', full.toString(), err);
    }
    this.files.set(++this.next, { fd, path: full.toString() });
    return this.next;
  }

  /** Fill up to `max` bytes unless the file ends: the core takes a short read as the end. */
  read(handle, max) {
    const file = this.files.get(handle);
    if (!file) throw hostError('internal', `source handle ${handle} is not open`);
    // One buffer, reused: the core copies what a read returns before it calls again.
    if (!this.buffer || this.buffer.length < max) this.buffer = Buffer.allocUnsafe(max);
    const buf = this.buffer;
    let filled = 0;
    try {
      while (filled < max) {
        const n = fs.readSync(file.fd, buf, filled, max - filled, null);
        if (n === 0) break;
        filled += n;
      }
    } catch (err) {
      throw ioError('source', file.path, err);
    }
    return buf.subarray(0, filled);
  }

  close(handle) {
    const file = this.files.get(handle);
    if (file) fs.closeSync(file.fd);
    this.files.delete(handle);
  }
}

module.exports = { Source };
