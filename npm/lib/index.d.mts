export * from './index.js';
import type { OutputSpec } from './index.js';
/** An output object as its `--output` string. */
export function outputString(output: string | OutputSpec): string;
