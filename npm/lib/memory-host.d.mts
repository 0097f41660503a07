import type { OutportHost, ProgressEvent } from './index.js';

/** A file of the in-memory source tree: its content, or a description with attributes. */
export type MemoryFile =
  | string
  | Uint8Array
  | { data?: string | Uint8Array; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { symlink: string; uid?: number; gid?: number; mtime?: number }
  | { directory: true; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { fifo: true; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { charDevice: [number, number]; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { blockDevice: [number, number]; mode?: number; uid?: number; gid?: number; mtime?: number }
  /** Another name for a regular file given elsewhere in `files` (same inode and data). */
  | { hardlink: string };

export interface MemoryHostOptions {
  /** Absolute paths ('/src/app.js') to files; missing parents become 0755 directories. */
  files?: Record<string, MemoryFile> | Map<string, MemoryFile>;
  /** uid, gid and mtime (Unix seconds) of entries that do not give theirs; all 0 by default. */
  defaults?: { uid?: number; gid?: number; mtime?: number };
  onProgress?: (event: ProgressEvent) => void;
  /** Registry credentials: 'USER:SECRET' or { username, password }. */
  creds?: string | { username: string; password: string };
  /** A docker config.json (its text, or the object) whose `auths` the core reads when `creds` is not given; credential helpers cannot run here. */
  dockerConfig?: string | object;
  /** Replaces globalThis.fetch for registry requests. */
  fetch?: typeof fetch;
}

export interface MemoryHost extends OutportHost {
  /** An output file's bytes (e.g. the tarball of `type=oci,dest=/out/image.tar`), once complete. */
  readOutput(path: string): Uint8Array | undefined;
  /** Every path written under the outputs, files and directories. */
  outputPaths(): string[];
  /** The content store: digest → bytes. */
  blobs: Map<string, Uint8Array>;
}

/** A host that keeps the source tree, the store and the outputs in memory. */
export function createMemoryHost(options?: MemoryHostOptions): MemoryHost;
