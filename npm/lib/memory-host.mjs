// An in-memory implementation of the core's host interface (see index.d.ts, `OutportHost`): the
// source tree, the content store and the outputs are Maps, so the exporter runs wherever WebAssembly
// runs — a browser or web worker, an editor's extension host with a virtual file system, a test —
// with the result handed back as bytes. Registry traffic goes through `fetch`. No Node APIs here.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function hostError(kind, message) {
  const error = new Error(message);
  error.kind = kind;
  return error;
}

/**
 * The transport kind (wit/outport.wit) of a failed fetch: Node's fetch keeps the socket's error code
 * on `cause`; a browser says nothing more than "failed to fetch", which is 'other'.
 */
function transportKind(err) {
  const code = String(err?.cause?.code ?? err?.code ?? '');
  if (['ENOTFOUND', 'EAI_AGAIN'].includes(code)) return 'dns';
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) return 'connect';
  if (code === 'ETIMEDOUT' || code.endsWith('_TIMEOUT') || err?.name === 'TimeoutError') return 'timeout';
  if (['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(code)) return 'reset';
  if (code.includes('CERT') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') return 'certificate';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') return 'tls';
  return 'other';
}

/** "/a/b/" and "a//b" → "/a/b"; the root is "/". */
function normalize(path) {
  const parts = String(path).split('/').filter((p) => p !== '' && p !== '.');
  return `/${parts.join('/')}`;
}

const parentOf = (path) => (path === '/' ? null : normalize(path.slice(0, path.lastIndexOf('/')) || '/'));
const baseName = (path) => path.slice(path.lastIndexOf('/') + 1);

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * A tree of in-memory nodes: `{ kind, mode, uid, gid, mtime, data?, linkTarget?, inode }`, keyed by
 * normalized absolute path, with the children of each directory.
 */
class Tree {
  constructor(defaults) {
    this.defaults = { uid: 0, gid: 0, mtime: 0, ...defaults };
    this.nodes = new Map();
    this.children = new Map();
    this.nextInode = 1;
    this.put('/', { kind: 'directory', mode: 0o755 });
  }

  put(path, node) {
    path = normalize(path);
    const parent = parentOf(path);
    if (parent !== null && !this.nodes.has(parent)) this.put(parent, { kind: 'directory', mode: 0o755 });
    if (parent !== null && this.nodes.get(parent).kind !== 'directory') {
      throw new TypeError(`${path}: its parent ${parent} is not a directory`);
    }
    const old = this.nodes.get(path);
    const full = { ...this.defaults, ...node, inode: old?.inode ?? this.nextInode++ };
    this.nodes.set(path, full);
    if (parent !== null) {
      if (!this.children.has(parent)) this.children.set(parent, new Set());
      this.children.get(parent).add(baseName(path));
    }
    if (full.kind === 'directory' && !this.children.has(path)) this.children.set(path, new Set());
    return full;
  }

  /** `node` (already in the tree) under another name too. */
  link(path, node) {
    path = normalize(path);
    const parent = parentOf(path);
    if (!this.nodes.has(parent)) this.put(parent, { kind: 'directory', mode: 0o755 });
    this.nodes.set(path, node);
    this.children.get(parent).add(baseName(path));
  }

  get(path) {
    return this.nodes.get(normalize(path));
  }

  remove(path) {
    path = normalize(path);
    for (const child of this.children.get(path) ?? []) this.remove(`${path}/${child}`);
    this.nodes.delete(path);
    this.children.delete(path);
    this.children.get(parentOf(path))?.delete(baseName(path));
  }

  list(path) {
    return [...(this.children.get(normalize(path)) ?? [])].sort();
  }
}

/** A user's file description as a tree node. */
function sourceNode(path, spec) {
  if (typeof spec === 'string') spec = { data: encoder.encode(spec) };
  else if (spec instanceof Uint8Array) spec = { data: spec };
  if (spec === null || typeof spec !== 'object') throw new TypeError(`files[${JSON.stringify(path)}]: expected a string, bytes or an object`);
  const { data, symlink, directory, fifo, charDevice, blockDevice, hardlink, ...attributes } = spec;
  if (symlink !== undefined) return { kind: 'symlink', mode: 0o777, linkTarget: encoder.encode(symlink), ...attributes };
  if (directory) return { kind: 'directory', mode: 0o755, ...attributes };
  if (fifo) return { kind: 'fifo', mode: 0o644, ...attributes };
  const device = charDevice ?? blockDevice;
  if (device) {
    const [devMajor, devMinor] = device;
    return { kind: charDevice ? 'char-device' : 'block-device', mode: 0o644, devMajor, devMinor, ...attributes };
  }
  if (hardlink !== undefined) return { hardlink: normalize(hardlink) };
  const bytes = typeof data === 'string' ? encoder.encode(data) : data ?? new Uint8Array(0);
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`files[${JSON.stringify(path)}].data: expected a string or bytes`);
  return { kind: 'regular', mode: 0o644, data: bytes, ...attributes };
}

/**
 * A host keeping everything in memory.
 * - `files`: `{ '/src/app.js': 'text' | Uint8Array | { data, mode, uid, gid, mtime } | { symlink: 'target' }
 *   | { directory: true } | { fifo: true } | { charDevice: [major, minor] } | { blockDevice: [major, minor] }
 *   | { hardlink: '/src/other' } }` (absolute paths; parents are created as 0755 directories).
 * - `defaults`: uid, gid and mtime (Unix seconds) for entries that do not give theirs (all 0).
 * - `creds`: 'USER:SECRET' or { username, password } for registries; `fetch` replaces globalThis.fetch.
 * - `dockerConfig`: a docker config.json (its text, or the object) the core reads `auths` from when
 *   `creds` is not given (credential helpers cannot run here).
 * The returned host also has `readOutput(path)` (an output file's bytes, or undefined),
 * `outputPaths()`, and `blobs` (the store's Map of digest → bytes).
 */
export function createMemoryHost({ files = {}, defaults = {}, onProgress, creds, dockerConfig, fetch: fetchImpl } = {}) {
  const source = new Tree(defaults);
  const links = [];
  for (const [path, spec] of files instanceof Map ? files : Object.entries(files)) {
    const node = sourceNode(path, spec);
    if (node.hardlink) links.push([path, node.hardlink]);
    else source.put(path, node);
  }
  // Another name for a file: the same node (inode and data), counted in nlink.
  for (const [path, target] of links) {
    const node = source.get(target);
    if (node?.kind !== 'regular') throw new TypeError(`files[${JSON.stringify(path)}]: hardlink target ${target} is not a regular file`);
    node.nlink = (node.nlink ?? 1) + 1;
    source.link(path, node);
  }
  const output = new Tree(defaults);
  const blobs = new Map();
  const cache = new Map();
  let storeIndex = null;
  const open = new Map();
  let nextHandle = 1;
  const handle = (value) => {
    open.set(nextHandle, value);
    return nextHandle++;
  };
  const take = (h, what) => {
    const value = open.get(h);
    if (!value || value.what !== what) throw hostError('internal', `${what} handle ${h} is not open`);
    return value;
  };

  function entryOf(path, name) {
    const node = source.get(path);
    if (!node) throw hostError('source', `${path}: no such file or directory`);
    return {
      name: encoder.encode(name),
      kind: node.kind,
      mode: node.mode & 0o7777,
      uid: node.uid,
      gid: node.gid,
      size: node.kind === 'regular' ? node.data.length : 0,
      mtime: node.mtime,
      linkTarget: node.linkTarget ?? new Uint8Array(0),
      devMajor: node.devMajor ?? 0,
      devMinor: node.devMinor ?? 0,
      device: 1,
      inode: node.inode,
      nlink: node.nlink ?? 1,
    };
  }

  function blob(digest) {
    const bytes = blobs.get(digest);
    if (!bytes) throw hostError('store', `blob ${digest} is not in the store`);
    return bytes;
  }

  function credentialsFor() {
    if (!creds) return null;
    if (typeof creds === 'object') return { username: creds.username ?? '', password: creds.password ?? '' };
    const at = String(creds).indexOf(':');
    if (at < 0) throw hostError('invalid-option', 'creds must be USER:SECRET');
    return { username: creds.slice(0, at), password: creds.slice(at + 1) };
  }

  const host = {
    sourceStat: (p) => {
      const path = normalize(decoder.decode(p));
      return entryOf(path, baseName(path));
    },
    sourceReadDir: (p) => {
      const path = normalize(decoder.decode(p));
      if (source.get(path)?.kind !== 'directory') throw hostError('source', `${path}: not a directory`);
      return source.list(path).map((name) => entryOf(`${path}/${name}`, name));
    },
    sourceOpen: (p) => {
      const path = normalize(decoder.decode(p));
      const node = source.get(path);
      if (node?.kind !== 'regular') throw hostError('source', `${path}: not a regular file`);
      return handle({ what: 'source', data: node.data, at: 0 });
    },
    sourceRead: (h, max) => {
      const file = take(h, 'source');
      const chunk = file.data.subarray(file.at, file.at + max);
      file.at += chunk.length;
      return chunk;
    },
    sourceClose: (h) => open.delete(h),

    blobSize: (d) => blobs.get(d)?.length ?? null,
    blobCreate: () => handle({ what: 'blob', chunks: [] }),
    blobWrite: (h, data) => take(h, 'blob').chunks.push(data.slice()),
    blobCommit: (h, d) => {
      blobs.set(d, concat(take(h, 'blob').chunks));
      open.delete(h);
    },
    blobAbort: (h) => open.delete(h),
    blobRead: (d, offset, max) => blob(d).subarray(offset, offset + max),
    blobDigest: async (d) => {
      const bytes = blobs.get(d);
      if (!bytes) return null;
      const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return `sha256:${Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('')}`;
    },
    blobList: () => [...blobs.keys()],
    blobRemove: (d) => blobs.delete(d),
    cacheRead: (key) => cache.get(key) ?? null,
    cacheWrite: (key, data) => cache.set(key, data.slice()),
    storeIndexRead: () => storeIndex,
    storeIndexWrite: (data) => {
      storeIndex = data.slice();
    },
    storeUnpackDir: (d) => `/.store/unpacked/${d.replace(/^sha256:/, '')}`,

    // Output files appear only when committed, like the Node host's rename of a temporary file.
    outputOpen: (p) => handle({ what: 'output', path: normalize(p), chunks: [] }),
    outputWrite: (h, data) => take(h, 'output').chunks.push(data.slice()),
    outputWriteBlob: (h, d) => {
      const bytes = blob(d);
      take(h, 'output').chunks.push(bytes);
      return bytes.length;
    },
    outputCommit: (h) => {
      const file = take(h, 'output');
      output.put(file.path, { kind: 'regular', mode: 0o644, data: concat(file.chunks) });
      open.delete(h);
    },
    outputAbort: (h) => open.delete(h),
    outputMkdir: (p) => {
      if (!output.get(p)) output.put(p, { kind: 'directory', mode: 0o755 });
    },
    outputRead: (p) => (output.get(p)?.kind === 'regular' ? output.get(p).data : null),
    outputCreateDir: (p) => {
      if (output.get(p)?.kind !== 'directory') output.put(p, { kind: 'directory', mode: 0o755 });
    },
    outputSymlink: (p, target) => output.put(p, { kind: 'symlink', mode: 0o777, linkTarget: target.slice() }),
    outputHardlink: (p, target) => {
      const node = output.get(target);
      if (!node) throw hostError('output', `${target}: no such file or directory`);
      output.put(p, { ...node });
    },
    outputListDir: (p) => {
      if (output.get(p)?.kind !== 'directory') return null;
      return output.list(p).map((name) => [name, output.get(`${normalize(p)}/${name}`).kind === 'directory']);
    },
    outputRemove: (p) => output.remove(p),
    outputSetAttributes: (p, mode, uid, gid, mtime) => {
      const node = output.get(p);
      if (node) Object.assign(node, { mode, uid, gid, mtime });
    },

    httpSend: async (request, maxBody) => {
      const { body } = request;
      const payload = body && !(body instanceof Uint8Array) ? blob(body.blob).subarray(body.offset, body.offset + body.length) : body;
      let response;
      try {
        response = await (fetchImpl ?? globalThis.fetch)(request.url, {
          method: request.method,
          headers: request.headers,
          body: payload ?? undefined,
          redirect: 'manual',
        });
      } catch (err) {
        const error = hostError('registry', `${request.method} ${request.url.split('?')[0]}: ${err.message}`);
        error.transport = transportKind(err);
        throw error;
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      return { status: response.status, headers: [...response.headers], body: bytes.subarray(0, maxBody) };
    },
    credentials: () => credentialsFor(),
    dockerConfig: () =>
      dockerConfig === undefined ? null : { path: 'config.json', text: typeof dockerConfig === 'string' ? dockerConfig : JSON.stringify(dockerConfig) },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    progress: (event) => onProgress?.(event),

    readOutput: (p) => {
      const node = output.get(p);
      return node?.kind === 'regular' ? node.data : undefined;
    },
    outputPaths: () => [...output.nodes.keys()].filter((p) => p !== '/'),
    blobs,
  };
  return host;
}
