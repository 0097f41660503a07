'use strict';
// Host failures in the core's shape: { kind, message }, the message naming the path at fault.

const REASONS = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'file exists',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
};

function hostError(kind, message) {
  const error = new Error(message);
  error.kind = kind;
  return error;
}

/** "PATH: no such file or directory", as the native host words it. */
function ioError(kind, path, err) {
  return hostError(kind, `${path}: ${REASONS[err.code] ?? String(err.message).toLowerCase()}`);
}

module.exports = { hostError, ioError };
