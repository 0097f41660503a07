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

export interface ProgressEvent {
  phase: string;
  id: string;
  current: number;
  total: number;
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

export interface ExportOptions extends RegistryOptions {
  /** Root filesystem directory that becomes the image's layer (or give `result`). */
  rootfs?: string;
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
  /** `--owner`: 'UID:GID' for every entry of the layers built from sources (default: the files' own). */
  owner?: string;
  /**
   * `--exclude`: patterns in .dockerignore syntax (`*`, `**`, `!` to keep) left out of directory sources,
   * after the patterns of each directory's `.outportignore` file.
   */
  exclude?: string[];
  /** `--output` values, exactly as docker buildx takes them, e.g. `type=oci,dest=out.tar`. Default: the local store. */
  outputs?: string[];
  /** `-t/--tag`: names replacing `name` of image, oci and docker outputs. */
  tags?: string[];
  /** `--push`: shorthand for an output `type=registry`. */
  push?: boolean;
  /** `--load`: also store the image in the local store. */
  load?: boolean;
  /** `--strict`: warnings (unknown option keys, …) are errors. */
  strict?: boolean;
  /** `--attest` values: `type=sbom|provenance,path=FILE` (a predicate or an in-toto statement). */
  attestations?: string[];
  /** Entitlements, e.g. `buildx.local.delete` (mode=delete outside the working directory). */
  allow?: string[];
  /** OS/ARCH[/VARIANT]; default: the base image's, else this machine's. */
  platform?: string;
  /**
   * Build on this image (`--base`; with `result`, each platform on the base's image for it): a
   * registry reference (`host/repo:tag`, `host/repo@sha256:…`), `oci:DIR[:TAG]` (an OCI image layout
   * directory) or `oci-archive:FILE[:TAG]` (one in a tarball). Its layers are reused unchanged and its
   * config (Env, Entrypoint, Cmd, …) is the starting point for `config`. Not with `config.configFile`.
   */
  base?: string;
  /** Plain HTTP or an unverified TLS certificate for the base image's registry only. */
  baseInsecure?: boolean;
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
export function images(options?: { store?: string }): Promise<StoredImage[]>;

export interface PushOptions extends RegistryOptions {
  /** The image's name in the store, e.g. ghcr.io/owner/app:1. */
  name: string;
  store?: string;
  /** Allow plain HTTP or an unverified certificate for this registry (registry.insecure=true). */
  insecure?: boolean;
  /** Push by digest only, without the tag. */
  byDigest?: boolean;
  onProgress?: (event: ProgressEvent) => void;
}

/** Push an image from the local store to its registry. */
export function push(options: PushOptions): Promise<{ 'containerimage.digest': string; 'image.name': string }>;

/** `outport store verify`: every blob hashed, every reference followed; `problems` is empty when the store is whole. */
export function storeVerify(options?: { store?: string }): Promise<{ blobs: number; bytes: number; images: number; problems: string[] }>;

/** `outport store gc`: remove the blobs no image in the store reaches. */
export function storeGc(options?: { store?: string }): Promise<{ images: number; kept: number; removed: number; freed: number }>;

/** This machine's platform in OCI terms, e.g. `linux/amd64`. */
export function hostPlatform(): string;
