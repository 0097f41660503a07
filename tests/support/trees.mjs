// The same small tree two ways: on disk (for the CLI and the Node host) and as createMemoryHost
// files, with every attribute the layer records pinned so that both give the same tar.
import fs from 'node:fs';
import path from 'node:path';

const MTIME = 1_600_000_000;

/** name → spec; directories end with '/'. */
export const SAMPLE = {
  'app/': { mode: 0o755 },
  'app/index.js': { data: "console.log('hello');\n", mode: 0o644 },
  'app/run.sh': { data: '#!/bin/sh\nexec node /app/index.js\n', mode: 0o755 },
  'app/data.bin': { data: new Uint8Array(70_000).map((_, i) => (i * 31) % 251), mode: 0o600 },
  'app/link': { symlink: 'index.js' },
  'etc/': { mode: 0o755 },
  'etc/app.conf': { data: 'port = 8080\n'.repeat(100), mode: 0o644 },
};

/** Write SAMPLE under `root` with its modes, uid/gid of this process, and pinned mtimes. */
export function writeTree(root, spec = SAMPLE) {
  fs.mkdirSync(root, { recursive: true });
  const dirs = [];
  for (const [name, entry] of Object.entries(spec)) {
    const full = path.join(root, name);
    if (name.endsWith('/')) {
      fs.mkdirSync(full, { recursive: true });
      fs.chmodSync(full, entry.mode);
      dirs.push(full);
    } else if (entry.symlink !== undefined) {
      fs.symlinkSync(entry.symlink, full);
      fs.lutimesSync(full, MTIME, MTIME);
    } else {
      fs.writeFileSync(full, entry.data);
      fs.chmodSync(full, entry.mode);
      fs.utimesSync(full, MTIME, MTIME);
    }
  }
  for (const dir of dirs.reverse()) fs.utimesSync(dir, MTIME, MTIME);
  return root;
}

/** SAMPLE as createMemoryHost files under `root`, owned like writeTree's files. */
export function memoryFiles(root, spec = SAMPLE) {
  const owner = { uid: process.getuid(), gid: process.getgid(), mtime: MTIME };
  const files = { [root]: { directory: true, mode: 0o755, ...owner } };
  for (const [name, entry] of Object.entries(spec)) {
    const at = `${root}/${name.replace(/\/$/, '')}`;
    if (name.endsWith('/')) files[at] = { directory: true, mode: entry.mode, ...owner };
    else if (entry.symlink !== undefined) files[at] = { symlink: entry.symlink, ...owner };
    else files[at] = { data: entry.data, mode: entry.mode, ...owner };
  }
  return files;
}
