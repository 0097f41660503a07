// The determinism matrix's inputs: 20 source trees that stress what a layer tar records (names,
// links, special files, modes, owners, times, sizes), built on disk, and read back as
// createMemoryHost files so the browser build can export the very same tree.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const T0 = 1_600_000_000;
const bytes = (n, seed) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => ((i * 2_654_435_761 + seed) >>> 13) & 0xff));
const text = (n) => Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(Math.ceil(n / 44)).slice(0, n));

function file(root, name, data, mode = 0o644) {
  const full = path.join(root, name);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, data);
  fs.chmodSync(full, mode);
  return full;
}

/** name → builder(root); a builder may return { note } (what this machine could not make). */
export const INPUTS = {
  'empty dir': () => {},
  'one file': (r) => file(r, 'hello.txt', 'hello\n'),
  'deep tree': (r) => file(r, `${Array.from({ length: 60 }, (_, i) => `d${i}`).join('/')}/leaf`, 'deep\n'),
  'wide dir': (r) => {
    for (let i = 0; i < 1500; i++) file(r, `wide/f${String(i).padStart(4, '0')}`, `${i}\n`);
  },
  'long names': (r) => {
    file(r, `${'n'.repeat(120)}/${'m'.repeat(150)}.txt`, 'long\n');
    file(r, `${'p'.repeat(99)}`, '99\n');
    file(r, `a/${'q'.repeat(98)}`, '100 with the directory\n');
  },
  'long link targets': (r) => {
    fs.mkdirSync(r, { recursive: true });
    fs.symlinkSync(`../${'t'.repeat(140)}/target`, path.join(r, 'long-link'));
  },
  'unicode names': (r) => {
    for (const name of ['café.txt', '日本語/ファイル', 'emoji-😀', 'ελληνικά', 'n\u0303-decomposed']) file(r, name, `${name}\n`);
  },
  hardlinks: (r) => {
    const first = file(r, 'a/original', text(5000));
    fs.mkdirSync(path.join(r, 'b'), { recursive: true });
    fs.linkSync(first, path.join(r, 'b/second'));
    fs.linkSync(first, path.join(r, 'third'));
  },
  symlinks: (r) => {
    file(r, 'target.txt', 'target\n');
    fs.symlinkSync('target.txt', path.join(r, 'relative'));
    fs.symlinkSync('/etc/passwd', path.join(r, 'absolute-outward'));
    fs.symlinkSync('missing/nowhere', path.join(r, 'dangling'));
    fs.symlinkSync('.', path.join(r, 'self-dir'));
  },
  fifo: (r) => {
    fs.mkdirSync(r, { recursive: true });
    execFileSync('mkfifo', ['-m', '0640', path.join(r, 'pipe')]);
  },
  devices: (r) => {
    fs.mkdirSync(r, { recursive: true });
    try {
      execFileSync('mknod', ['-m', '0600', path.join(r, 'null-like'), 'c', '1', '3'], { stdio: 'pipe' });
      execFileSync('mknod', ['-m', '0600', path.join(r, 'disk-like'), 'b', '7', '0'], { stdio: 'pipe' });
    } catch {
      file(r, 'placeholder', 'no mknod here\n');
      return { note: 'mknod not permitted on this machine: devices replaced by a file' };
    }
  },
  'sparse file': (r) => {
    fs.mkdirSync(r, { recursive: true });
    const fd = fs.openSync(path.join(r, 'sparse'), 'w');
    fs.writeSync(fd, bytes(4096, 1), 0, 4096, 9 << 20);
    fs.ftruncateSync(fd, 10 << 20);
    fs.closeSync(fd);
  },
  'large file': (r) => {
    file(r, 'big.bin', Buffer.concat([bytes(3 << 20, 7), text(6 << 20)]));
  },
  xattrs: (r) => {
    const f = file(r, 'with-xattr', 'x\n');
    execFileSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.outport", b"value")', f]);
  },
  'setuid setgid sticky': (r) => {
    file(r, 'suid', '#!/bin/sh\n', 0o4755);
    file(r, 'sgid', '#!/bin/sh\n', 0o2755);
    fs.mkdirSync(path.join(r, 'sticky'));
    fs.chmodSync(path.join(r, 'sticky'), 0o1777);
  },
  'mtime before 1970': (r) => {
    const f = file(r, 'old', 'old\n');
    fs.utimesSync(f, -86400 * 365 * 10, -86400 * 365 * 10);
  },
  'mtime after 2038': (r) => {
    const f = file(r, 'future', 'future\n');
    fs.utimesSync(f, 4_102_444_800, 4_102_444_800);
  },
  'empty files and dirs': (r) => {
    file(r, 'empty', '');
    file(r, 'dir/also-empty', '');
    fs.mkdirSync(path.join(r, 'nothing/inside'), { recursive: true });
  },
  'odd modes': (r) => {
    file(r, 'none', 'no access\n', 0o000);
    file(r, 'all', 'all access\n', 0o777);
    fs.mkdirSync(path.join(r, 'private'));
    file(r, 'private/x', 'x\n');
    fs.chmodSync(path.join(r, 'private'), 0o700);
  },
  owners: (r) => {
    file(r, 'user', 'u\n');
    file(r, 'nobody', 'n\n');
    try {
      fs.chownSync(path.join(r, 'user'), 1000, 1000);
      fs.chownSync(path.join(r, 'nobody'), 65534, 65534);
    } catch {
      return { note: 'chown not permitted: owners are this user' };
    }
  },
};

/** Build input `name` under `root` with every mtime pinned (except the ones the input sets). */
export function buildInput(name, root) {
  fs.mkdirSync(root, { recursive: true });
  const note = INPUTS[name](root)?.note ?? null;
  pinTimes(root, name.startsWith('mtime') ? path.join(root, name === 'mtime before 1970' ? 'old' : 'future') : null);
  return note;
}

function pinTimes(dir, keep) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) pinTimes(full, keep);
    else if (full !== keep) fs.lutimesSync(full, T0, T0);
  }
  fs.utimesSync(dir, T0, T0);
}

/** Whole Unix seconds, rounded down like the kernel's tv_sec (also before 1970). */
function seconds(ns) {
  const s = ns / 1_000_000_000n;
  return Number(ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s);
}

/** The tree at `root` as createMemoryHost files under `at`; file data as base64 (`data64`). */
export function readTree(root, at) {
  const files = {};
  const seen = new Map();
  const visit = (full, name) => {
    const st = fs.lstatSync(full, { bigint: true });
    const attributes = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: seconds(st.mtimeNs) };
    if (st.isDirectory()) {
      files[name] = { directory: true, ...attributes };
      for (const child of fs.readdirSync(full)) visit(path.join(full, child), `${name}/${child}`);
    } else if (st.isSymbolicLink()) {
      files[name] = { symlink: fs.readlinkSync(full), ...attributes };
    } else if (st.isFIFO()) {
      files[name] = { fifo: true, ...attributes };
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const rdev = Number(st.rdev);
      const device = [(rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)];
      files[name] = { [st.isCharacterDevice() ? 'charDevice' : 'blockDevice']: device, ...attributes };
    } else if (st.nlink > 1n && seen.has(st.ino)) {
      files[name] = { hardlink: seen.get(st.ino) };
    } else {
      seen.set(st.ino, name);
      files[name] = { data64: fs.readFileSync(full).toString('base64'), ...attributes };
    }
  };
  visit(root, at);
  return files;
}
