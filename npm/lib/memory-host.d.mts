// The in-memory host's declarations live with the rest (index.d.ts): the CommonJS entry exports it too.
export { createMemoryHost, type MemoryHost, type MemoryHostOptions, type MemoryFile } from './index.js';
