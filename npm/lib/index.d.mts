export * from './index.js';
export { createMemoryHost, type MemoryHost, type MemoryHostOptions, type MemoryFile } from './memory-host.mjs';
import type { OutputSpec } from './index.js';
/** An output object as its `--output` string. */
export function outputString(output: string | OutputSpec): string;
