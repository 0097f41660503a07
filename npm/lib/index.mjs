// outport for Node, as an ES module: the CommonJS API plus what only ESM can offer synchronously
// (the in-memory host and the output-object helper, shared with the browser build).
import outport from './index.js';

export const { exportImage, images, push, remove, storeVerify, storeGc, createNodeHost, hostPlatform, assetFiles } = outport;
export { createMemoryHost } from './memory-host.mjs';
export { outputString } from './request.mjs';
