import type { ExportOptions, ExportMetadata, OutportHost, PushOptions, PushManyOptions, PushResult, StoredImage, OutputSpec } from './index.js';
export { createMemoryHost, type MemoryHost, type MemoryHostOptions, type MemoryFile } from './memory-host.mjs';

/** Load the core once; `wasm` overrides where outport_bg.wasm comes from. */
export function initialize(wasm?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<unknown>;

type WithHost<T> = Omit<T, 'host' | 'store' | 'threads' | 'registryCa' | 'creds' | 'assetDir'> & { host: OutportHost };

/** As the Node `exportImage`, on the given host; `hostPlatform` (default linux/amd64) is the build platform. */
export function exportImage(options: WithHost<ExportOptions> & { hostPlatform?: string }): Promise<ExportMetadata>;
export function push(options: WithHost<PushOptions>): Promise<PushResult>;
export function push(options: WithHost<PushManyOptions>): Promise<PushResult[]>;
export function images(options: { host: OutportHost; signal?: AbortSignal }): Promise<StoredImage[]>;
/** An output object as its `--output` string. */
export function outputString(output: string | OutputSpec): string;
