'use strict';
// The local exporter's file-system operations. Nothing here follows a symlink that is already in
// the destination: an existing entry of the wrong kind is removed and replaced.
const fs = require('node:fs');
const { ioError } = require('./errors');

/** Remove whatever is at `p` unless it is a real directory and `keepDir` (symlinks are removed, not followed). */
function clear(p, keepDir) {
  let stat;
  try {
    stat = fs.lstatSync(p);
  } catch (err) {
    if (err.code === 'ENOENT') return;
    throw ioError('output', p, err);
  }
  if (keepDir && stat.isDirectory()) return;
  try {
    fs.rmSync(p, { recursive: stat.isDirectory(), force: true });
  } catch (err) {
    throw ioError('output', p, err);
  }
}

function attempt(p, action) {
  try {
    action();
  } catch (err) {
    throw ioError('output', p, err);
  }
}

function createDir(p) {
  clear(p, true);
  try {
    fs.mkdirSync(p);
  } catch (err) {
    if (err.code !== 'EEXIST') throw ioError('output', p, err);
  }
}

function symlink(p, target) {
  clear(p, false);
  attempt(p, () => fs.symlinkSync(Buffer.from(target), p));
}

function hardlink(p, target) {
  clear(p, false);
  attempt(p, () => fs.linkSync(target, p));
}

/** Mode and mtime always; ownership only as root. A symlink gets its own owner and time. */
function setAttributes(p, mode, uid, gid, mtime) {
  attempt(p, () => {
    const isLink = fs.lstatSync(p).isSymbolicLink();
    if (process.geteuid?.() === 0) fs.lchownSync(p, uid, gid);
    // Times before permissions: a mode like 0000 must not stop us from setting them.
    fs.lutimesSync(p, mtime, mtime);
    if (!isLink) fs.chmodSync(p, mode & 0o7777);
  });
}

/** [[name, isDir], …] of a directory (symlinks are not directories), or null when `p` is not one. */
function listDir(p) {
  try {
    if (!fs.lstatSync(p).isDirectory()) return null;
    return fs.readdirSync(p, { withFileTypes: true }).map((d) => [d.name, d.isDirectory()]);
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw ioError('output', p, err);
  }
}

module.exports = { createDir, symlink, hardlink, setAttributes, listDir, remove: (p) => clear(p, false) };
