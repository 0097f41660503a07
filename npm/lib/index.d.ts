/** buildx's result metadata keys, as `docker buildx build --metadata-file` writes them. */
export interface ExportMetadata {
  'containerimage.digest': string;
  'containerimage.config.digest'?: string;
  'containerimage.descriptor': {
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
    platform?: { architecture: string; os: string; variant?: string };
  };
  'image.name'?: string;
  [key: string]: unknown;
}

/**
 * What a progress event is about: `layer` (a layer being built), `compress`, `recompress` (a base
 * layer into another compression), `apply` (base layers applied for local/tar/unpack), `pull`,
 * `push`, `exists` (a blob the registry already has: nothing sent), `retry`, `store`, `write` (an image layout), `local`, `tar`, `load` (bytes sent to a
 * Docker engine), `leave-out` (an output inside a source, not copied into itself), `ignore-file`
 * (the `.outportignore` or `.dockerignore` read), `done`.
 */
export type ProgressPhase =
  | 'layer' | 'compress' | 'recompress' | 'apply' | 'pull' | 'push' | 'exists' | 'retry' | 'store' | 'write'
  | 'local' | 'tar' | 'load' | 'leave-out' | 'ignore-file' | 'done';

/**
 * One step of a run, as the CLI's `--progress json` prints it: `phase`, `id` (a layer or blob
 * digest, an output, a path), and bytes or items done of `total`.
 */
export interface ProgressEvent {
  phase: ProgressPhase;
  id: string;
  current: number;
  total: number;
}

/** BuildKit's annotation keys: `annotation.KEY`, `annotation-manifest[linux/arm64].KEY`, … */
type AnnotationKeys = { [key: `annotation${string}`]: string };

/** The options every image-producing output takes (BuildKit's commit options). */
interface ImageOptions extends AnnotationKeys {
  /** One name, or several (joined with commas). */
  name?: string | string[];
  compression?: 'gzip' | 'zstd' | 'estargz' | 'uncompressed';
  'compression-level'?: number;
  'force-compression'?: boolean;
  'oci-mediatypes'?: boolean;
  'oci-artifact'?: boolean;
  'source-date-epoch'?: number | string;
  'rewrite-timestamp'?: boolean;
  'prefer-nondist-layers'?: boolean;
  'attestation-inline'?: boolean;
}

/** `type=image` (outport's own store) and `type=registry` (image with push=true). */
export interface ImageOutput extends ImageOptions {
  type: 'image' | 'registry';
  push?: boolean;
  'push-by-digest'?: boolean;
  'registry.insecure'?: boolean;
  'dangling-name-prefix'?: string;
  'name-canonical'?: boolean;
  unpack?: boolean;
  store?: boolean;
}

/** `type=oci` and `type=docker`: an image layout tarball (or directory with `tar: false`); `docker` without dest loads into the Docker engine. */
export interface LayoutOutput extends ImageOptions {
  type: 'oci' | 'docker';
  dest?: string;
  tar?: boolean;
}

/** `type=local` and `type=tar`: the final root filesystem. */
export interface FilesystemOutput {
  type: 'local' | 'tar';
  dest?: string;
  'platform-split'?: boolean;
  mode?: 'copy' | 'delete';
  'attestation-prefix'?: string;
  'source-date-epoch'?: number | string;
}

/** `type=cacheonly`: build and report digests, write nothing. */
export interface CacheOnlyOutput {
  type: 'cacheonly';
}

/**
 * An `--output` value as an object: the same keys and values as the string form
 * (`{ type: 'oci', dest: 'out.tar', compression: 'zstd' }` is `type=oci,dest=out.tar,compression=zstd`);
 * arrays (e.g. several `name`s) are joined with commas. Typed per `type`, so a key the exporter
 * does not take is a compile error.
 */
export type OutputSpec = ImageOutput | LayoutOutput | FilesystemOutput | CacheOnlyOutput;

/** A source entry as the host describes it (lstat: symlinks are described, never followed). */
export interface SourceEntry {
  name: Uint8Array;
  kind: 'regular' | 'directory' | 'symlink' | 'char-device' | 'block-device' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size: number | bigint;
  /** Unix seconds. */
  mtime: number | bigint;
  linkTarget: Uint8Array;
  devMajor: number;
  devMinor: number;
  device: number | bigint;
  inode: number | bigint;
  nlink: number | bigint;
  /**
   * ctime in nanoseconds. Optional: with it, the compression cache recognizes unchanged files
   * without reading them; without it (or 0), they are read and hashed.
   */
  changeTimeNs?: number | bigint;
}

/** A registry request: the body is empty, bytes, or a range of a stored blob. */
export interface HttpRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  insecure: boolean;
  body: null | Uint8Array | { blob: string; offset: number; length: number };
}

export type Awaitable<T> = T | Promise<T>;

/**
 * What the core asks of its host (wit/outport.wit, as JS sees it). The Node host (`createNodeHost`)
 * and the in-memory host (`createMemoryHost`) implement it; an embedder may pass any object that
 * does, e.g. over an editor's virtual file system. Paths of the source tree are bytes; failures are
 * thrown as Errors with `kind` ('source', 'store', 'output', 'registry', 'auth', 'invalid-option'),
 * and the message names the path at fault. Every method may return a Promise.
 */
export interface OutportHost {
  sourceStat(path: Uint8Array): Awaitable<SourceEntry>;
  sourceReadDir(path: Uint8Array): Awaitable<SourceEntry[]>;
  sourceOpen(path: Uint8Array): Awaitable<number>;
  /** Up to `max` bytes; fewer only at the end of the file. */
  /** The core copies the result at once: the host may reuse its buffer on its next call. */
  sourceRead(handle: number, max: number): Awaitable<Uint8Array>;
  sourceClose(handle: number): Awaitable<unknown>;
  blobSize(digest: string): Awaitable<number | null>;
  blobCreate(): Awaitable<number>;
  /** `data` is a view of the core's memory, valid only during the call: write or copy it before returning (not after an await). */
  blobWrite(handle: number, data: Uint8Array): Awaitable<unknown>;
  /** Make the written bytes visible under `digest` (computed by the core). */
  blobCommit(handle: number, digest: string): Awaitable<unknown>;
  blobAbort(handle: number): Awaitable<unknown>;
  blobRead(digest: string, offset: number, max: number): Awaitable<Uint8Array>;
  /** Optional: "sha256:<hex>" of a stored blob's bytes, or null if absent (else the core hashes it). */
  blobDigest?(digest: string): Awaitable<string | null>;
  blobList(): Awaitable<string[]>;
  blobRemove(digest: string): Awaitable<unknown>;
  cacheRead(key: string): Awaitable<Uint8Array | null>;
  cacheWrite(key: string, data: Uint8Array): Awaitable<unknown>;
  storeIndexRead(): Awaitable<Uint8Array | null>;
  storeIndexWrite(data: Uint8Array): Awaitable<unknown>;
  storeUnpackDir(digest: string): Awaitable<string>;
  /** Output files appear at `path` only when committed. */
  outputOpen(path: string): Awaitable<number>;
  /** `data` is a view of the core's memory, valid only during the call: write or copy it before returning (not after an await). */
  outputWrite(handle: number, data: Uint8Array): Awaitable<unknown>;
  /** Append a stored blob; resolves to its length. */
  outputWriteBlob(handle: number, digest: string): Awaitable<number>;
  /** Optional: put a stored blob at `path` as a whole file (digest verified; linked or cloned where possible); resolves to its length. Without it the blob is copied through outputOpen/outputWriteBlob. */
  outputPlaceBlob?(path: string, digest: string): Awaitable<number>;
  outputCommit(handle: number): Awaitable<unknown>;
  outputAbort(handle: number): Awaitable<unknown>;
  outputMkdir(path: string): Awaitable<unknown>;
  outputRead(path: string): Awaitable<Uint8Array | null>;
  outputCreateDir(path: string): Awaitable<unknown>;
  outputSymlink(path: string, target: Uint8Array): Awaitable<unknown>;
  outputHardlink(path: string, target: string): Awaitable<unknown>;
  /** `[name, isDirectory]` pairs, or null when `path` is not a directory. */
  outputListDir(path: string): Awaitable<Array<[string, boolean]> | null>;
  outputRemove(path: string): Awaitable<unknown>;
  outputSetAttributes(path: string, mode: number, uid: number, gid: number, mtime: number): Awaitable<unknown>;
  /** Optional: temporary files in the store no running process owns, as [path, size]; removed first when `remove` (store gc). */
  storeTemporaries?(remove: boolean): Awaitable<Array<[string, number]>>;
  /** Optional: a new, empty, hidden directory beside `path` in which a directory output is built, then moved into place with outputMove. Without it, directory outputs are written in place. */
  outputStageDir?(path: string): Awaitable<string>;
  /** Needed with outputStageDir: rename `from` to `to`, replacing what is there (never following a link), and resolve to true; resolve to false, moving nothing, when both are directories (with `intoLink`, `to` may be a symlink to one). */
  outputMove?(from: string, to: string, intoLink: boolean): Awaitable<boolean>;
  /** Optional: [device, inode] of what is at `path` (symlinks followed) in the same numbering as sourceStat, or null; lets source walks leave the run's own outputs out. */
  outputIdentity?(path: string): Awaitable<[number, number] | null>;
  /**
   * The response body is cut at `maxBody` bytes. Redirects are returned, not followed. An exchange
   * that gets no answer throws an Error with kind 'registry' and `transport`: 'dns', 'connect',
   * 'timeout', 'reset', 'certificate', 'plain-http', 'tls' or 'other' (the core retries and hints by it).
   */
  httpSend(request: HttpRequest, maxBody: number): Awaitable<{ status: number; headers: Array<[string, string]>; body: Uint8Array }>;
  /** The credential the user gave for `registry` (for a push, or for pulls), or null: the core then reads docker's config through dockerConfig and credentialHelper. */
  credentials(registry: string, forPush: boolean): Awaitable<{ username?: string; password?: string; identityToken?: string } | null>;
  /** Optional: docker's config.json, unparsed (the core reads it), with its path for messages; null when there is none. Absent: no docker config. */
  dockerConfig?(): Awaitable<{ path: string; text: string } | null>;
  /** Needed when the docker config names credential helpers: run `docker-credential-NAME get` with `server` on stdin; `status` words the exit status for messages (e.g. 'exit status: 1'). Throw only when it cannot be run. */
  credentialHelper?(name: string, server: string): Awaitable<{ success: boolean; status: string; stdout: string }>;
  sleep(milliseconds: number): Awaitable<unknown>;
  progress(event: ProgressEvent): void;
  /** Optional: a sha256 the host computes natively (absent: the core hashes layer streams itself, more slowly). */
  hashStart?(): number;
  /** `data` is a view of the core's memory, valid only during the call. */
  hashUpdate?(handle: number, data: Uint8Array): Awaitable<unknown>;
  /** `sha256:<hex>` of everything given; the handle is gone. */
  hashFinish?(handle: number): Awaitable<string>;
  /** Optional: threads for layer pieces (absent or 0: the core compresses on its own thread). */
  compressThreads?(): number;
  /** `input` (the bytes before the piece, then from `start` its own) is a view of the core's memory, valid only during this call: copy it before returning. */
  compressStart?(piece: { algorithm: string; level: number; input: Uint8Array; start: number; last: boolean }): Awaitable<number>;
  /** The core copies the bytes at once; they need stay valid only until the host's next call. */
  compressWait?(handle: number): Awaitable<Uint8Array>;
}

/** Options every call takes. */
export interface CallOptions {
  /** Run on this host instead of a Node host built from the other options (e.g. `createMemoryHost`). */
  host?: OutportHost;
  /** Stops the run at its next step; what it had started is removed and the call rejects with the reason. */
  signal?: AbortSignal;
  /**
   * Where a bundled program keeps the package's run-time files (`assetFiles()`: the core and the
   * compression threads' script). Default: the package's own, else beside the bundle.
   */
  assetDir?: string;
}

/** Image config settings, the CLI's --config/--label/--env/… flags. */
export interface ConfigSettings {
  /** Path of an image config JSON to start from. */
  configFile?: string;
  /** KEY=VALUE */
  labels?: string[];
  /** KEY=VALUE */
  env?: string[];
  /** JSON array (exec form) or a string run by /bin/sh -c. */
  entrypoint?: string;
  cmd?: string;
  workdir?: string;
  user?: string;
  /** PORT[/tcp|udp|sctp] */
  expose?: string[];
  /** Absolute container paths declared as volumes. */
  volumes?: string[];
  /** e.g. SIGQUIT, or a signal number. */
  stopSignal?: string;
  /** A Dockerfile HEALTHCHECK; durations in Go syntax (30s, 1m30s, 500ms). */
  healthcheck?: {
    /** JSON array (exec form), a shell string, or NONE. */
    cmd?: string;
    interval?: string;
    timeout?: string;
    startPeriod?: string;
    startInterval?: string;
    retries?: number;
  };
}

/** How to reach and log in to registries (push and base-image pulls). */
export interface RegistryOptions {
  /**
   * Credentials for the registry pushed to: 'USER:SECRET' or { username, password } (for GHCR a personal
   * access token or GITHUB_TOKEN). Default: $OUTPORT_REGISTRY_USER and $OUTPORT_REGISTRY_TOKEN, then
   * docker's config.json ($DOCKER_CONFIG or ~/.docker, credential helpers included).
   */
  creds?: string | { username: string; password: string };
  /** A PEM CA bundle trusted for registries' TLS certificates besides the system roots. */
  registryCa?: string;
}

export interface LayerSpec {
  /** Host path: a directory, a file or a layer tarball. */
  src: string;
  /** Absolute path in the image; default '/'. */
  dest?: string;
}

export interface ExportOptions extends RegistryOptions, CallOptions {
  /** Root filesystem directory that becomes the image's layer (or give `result`). */
  rootfs?: string;
  /** Also write the result metadata (buildx keys, pretty JSON) to this file (`--metadata-file`); no output may write the same path. */
  metadataFile?: string;
  /** Path of a multi-platform build result JSON: { platforms: [{ platform, layers: [dir…], config? }] }. */
  result?: string;
  /**
   * More layers, in order, above `rootfs` (`--layer`): a directory (its contents go under `dest`), a file
   * (placed at `dest`, or inside it when `dest` ends with '/'), or a layer tarball (.tar, .tar.gz,
   * .tar.zst; taken as is, `dest` must be '/'). `dest` defaults to '/'. Strings take the CLI's
   * `SRC[:DEST]` form.
   */
  layers?: Array<string | LayerSpec>;
  /**
   * A Node.js app directory (`--node-app`): node_modules as one layer, the rest as another, at
   * `config.workdir` (default /app); entrypoint `npm start` and user 1000 unless `config` says otherwise.
   * .git, .npmrc and other tooling files are left out.
   */
  nodeApp?: string;
  /**
   * Worker threads compressing layer pieces (default: $OUTPORT_THREADS, else the CPUs up to 4; 0: all
   * on the calling thread). The bytes are the same whatever the number.
   */
  threads?: number;
  /** `--owner`: 'UID:GID' for every entry of the layers built from sources (default: 0:0 for `layers` and `nodeApp` sources, as BuildKit's COPY; the rootfs keeps the files' own). */
  owner?: string;
  /**
   * `--exclude`: patterns in .dockerignore syntax (`*`, `**`, `!` to keep) left out of directory sources,
   * after the patterns of each directory's `.outportignore` file.
   */
  exclude?: string[];
  /**
   * `--output` values, exactly as docker buildx takes them (`type=oci,dest=out.tar`), or as objects.
   * Default: the local store.
   */
  outputs?: Array<string | OutputSpec>;
  /** SOURCE_DATE_EPOCH for this run (default: the environment's). */
  sourceDateEpoch?: string | number;
  /** `--keep-mtimes`: keep the files' own mtimes in `layers`/`nodeApp` layers (default: SOURCE_DATE_EPOCH, else 0, so an unchanged tree gives the same layer after `npm ci`). */
  keepMtimes?: boolean;
  /** `--annotation` values in buildx's syntax, `[TYPE[,TYPE…][[PLATFORM]]:]KEY=VALUE`, added to every image output. */
  annotations?: string[];
  /** `-t/--tag`: names replacing `name` of image, oci and docker outputs. */
  tags?: string[];
  /** `--push`: shorthand for an output `type=registry`. */
  push?: boolean;
  /** `--load`: also load the image into the Docker engine (Docker or Podman's service), as buildx does: shorthand for an output `{ type: 'docker' }` without dest. */
  load?: boolean;
  /** `--docker-host`: the engine for `load` (unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST); default $DOCKER_HOST, the current docker context, /var/run/docker.sock, Podman's sockets. */
  dockerHost?: string;
  /** `--strict`: warnings (unknown option keys, …) are errors. */
  strict?: boolean;
  /** `--attest` values: `type=sbom|provenance,path=FILE` (a predicate or an in-toto statement). */
  attestations?: string[];
  /**
   * With `nodeApp`: an SPDX 2.3 SBOM of the packages in node_modules (name, version, licence,
   * `pkg:npm/…` purl, integrity from package-lock.json) attached to each platform's image as an
   * in-toto attestation, as buildx's `--sbom=true` attaches one.
   */
  sbom?: boolean;
  /**
   * `'mode=min'` (or `true`): a minimal SLSA v0.2 provenance attached to each platform's image
   * (builder, the export's parameters without credentials, the base image by digest), as buildx's
   * `--provenance=mode=min`. `mode=max` is refused.
   */
  provenance?: boolean | 'mode=min' | 'min';
  /** Entitlements, e.g. `buildx.local.delete` (mode=delete outside the working directory). */
  allow?: string[];
  /**
   * OS/ARCH[/VARIANT]; default: the base image's, else this machine's. Several, separated by
   * commas (`'linux/amd64,linux/arm64'`), with `nodeApp`/`layers` on a multi-platform `base`: the same
   * app layers on each platform's base, one index (a warning names native `.node` addons).
   */
  platform?: string;
  /**
   * Build on this image (`--base`; with `result`, each platform on the base's image for it): a
   * registry reference (`host/repo:tag`, `host/repo@sha256:…`), `oci:DIR[:TAG]` (an OCI image layout
   * directory), `oci-archive:FILE[:TAG]` (one in a tarball) or `docker-archive:FILE[:NAME]` (a
   * `docker save` / `podman save` / `type=docker` tarball; NAME a repo tag or `@N`) or
   * `docker-daemon:NAME` (an image in the Docker engine, found as for `load`). Its layers are
   * reused unchanged and its config (Env, Entrypoint, Cmd, …) is the starting point for `config`; a
   * `config.configFile` goes over it as a Dockerfile stage over its FROM (its Env set in place or
   * appended, Labels merged, base history first). `local` and `tar` outputs and `unpack=true` give the
   * base's files too (its layers applied: whiteouts, opaque directories, hardlinks).
   */
  base?: string;
  /** Plain HTTP or an unverified TLS certificate for the base image's registry only. */
  baseInsecure?: boolean;
  /** `--base-creds`: credentials for pulling `base` ('USER:SECRET' or { username, password }); default docker's config.json. `creds` never goes to the base's registry. */
  baseCreds?: string | { username: string; password: string };
  /** Content store directory; default $OUTPORT_STORE or $XDG_DATA_HOME/outport/store. */
  store?: string;
  config?: ConfigSettings;
  onProgress?: (event: ProgressEvent) => void;
  /** Default: print "warning: …" on stderr. */
  onWarning?: (message: string) => void;
}

/** Export a root filesystem to every output; rejects with an Error carrying `kind` on failure. */
export function exportImage(options: ExportOptions): Promise<ExportMetadata>;

export interface StoredImage {
  name: string;
  digest: string;
  mediaType: string;
  size: number;
}

/** The images in the local store, sorted by name. */
export function images(options?: { store?: string } & CallOptions): Promise<StoredImage[]>;

/** What `push` takes besides the name(s). */
export interface PushSettings extends RegistryOptions, CallOptions {
  store?: string;
  /** Allow plain HTTP or an unverified certificate for the registry (registry.insecure=true). */
  insecure?: boolean;
  /** Push by digest only, without the tag. */
  byDigest?: boolean;
  onProgress?: (event: ProgressEvent) => void;
}

export interface PushOptions extends PushSettings {
  /** The image's name in the store, e.g. ghcr.io/owner/app:1. */
  name: string;
}

export interface PushManyOptions extends PushSettings {
  /** Several images' names in the store (`outport push NAME…`); every one must be there. */
  names: string[];
}

/** A pushed image. */
export interface PushResult {
  'containerimage.digest': string;
  'image.name': string;
}

/** How one of several names fared (`results` of the error `push({ names })` rejects with). */
export type PushOutcome = PushResult | { 'image.name': string; error: { kind: string; message: string } };

/** Push an image from the local store to its registry. */
export function push(options: PushOptions): Promise<PushResult>;
/**
 * Push several stored images, each whatever became of the ones before it: resolves to their results
 * in order, or rejects naming the ones not pushed, with `results: PushOutcome[]` on the error.
 */
export function push(options: PushManyOptions): Promise<PushResult[]>;

/** `outport store verify`: every blob hashed, every reference followed; `problems` is empty when the store is whole. */
export function storeVerify(options?: { store?: string } & CallOptions): Promise<{ blobs: number; bytes: number; images: number; problems: string[]; stale: Array<{ path: string; size: number }> }>;

/** `outport store gc`: remove the blobs no image in the store reaches. */
export function storeGc(options?: { store?: string } & CallOptions): Promise<{ images: number; kept: number; removed: number; freed: number; temporaries: number }>;

/** `outport rm NAME…`: forget these names in the store (any spelling); `storeGc` then reclaims blobs nothing else reaches. Every name must be there. */
export function remove(options: { names: string[]; store?: string } & CallOptions): Promise<{ removed: string[] }>;

/** This machine's platform in OCI terms, e.g. `linux/amd64`. */
export function hostPlatform(): string;

/** The Node host: node:fs for sources, store and outputs, node:http(s) for registries, worker threads. */
export function createNodeHost(options?: {
  store?: string;
  onProgress?: (event: ProgressEvent) => void;
  creds?: RegistryOptions['creds'];
  registryCa?: string;
  threads?: number;
  /** Where the compression threads' script and the core are in a bundled program (see `CallOptions.assetDir`). */
  assetDir?: string;
}): OutportHost & { dispose(): void };

/**
 * The files outport loads at run time rather than through require() (the core, `outport.js` and
 * `outport_bg.wasm`, and `compress-worker.js`), as absolute paths: a program bundled with esbuild or
 * webpack copies them beside its bundle (or into the directory it passes as `assetDir`).
 */
export function assetFiles(): string[];

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

/** A host that keeps the source tree, the store and the outputs in memory (also `outport/memory-host`, `outport/browser`). */
export function createMemoryHost(options?: MemoryHostOptions): MemoryHost;
