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
}

export interface ExportOptions {
  /** Root filesystem directory that becomes the image's layer (or give `result`). */
  rootfs?: string;
  /** Path of a multi-platform build result JSON: { platforms: [{ platform, layers: [dir…], config? }] }. */
  result?: string;
  /** `--output` values, exactly as docker buildx takes them, e.g. `type=oci,dest=out.tar`. Default: the local store. */
  outputs?: string[];
  /** `-t/--tag`: names replacing `name` of image, oci and docker outputs. */
  tags?: string[];
  /** `--push` (not implemented yet: rejected). */
  push?: boolean;
  /** `--load`: also store the image in the local store. */
  load?: boolean;
  /** `--strict`: warnings (unknown option keys, …) are errors. */
  strict?: boolean;
  /** `--attest` values: `type=sbom|provenance,path=FILE` (a predicate or an in-toto statement). */
  attestations?: string[];
  /** Entitlements, e.g. `buildx.local.delete` (mode=delete outside the working directory). */
  allow?: string[];
  /** OS/ARCH[/VARIANT]; default: this machine's. */
  platform?: string;
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

/** Push an image from the local store to its registry (`insecure`: plain HTTP). */
export function push(options: { name: string; store?: string; insecure?: boolean; byDigest?: boolean; onProgress?: (event: ProgressEvent) => void }): Promise<{ 'containerimage.digest': string; 'image.name': string }>;

/** This machine's platform in OCI terms, e.g. `linux/amd64`. */
export function hostPlatform(): string;
