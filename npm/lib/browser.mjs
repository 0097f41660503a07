// outport in a browser, web worker or web-based editor: the same core built with wasm-bindgen's web
// target. There is no file system or local store here, so every call takes a `host` — usually
// `createMemoryHost({ files })`, whose `readOutput(dest)` hands the result back as bytes.
import init, * as core from '../wasm-web/outport.js';
import { exportRequest, pushAnswer, pushRequest, runAbortable } from './request.mjs';

export { createMemoryHost } from './memory-host.mjs';
export { outputString } from './request.mjs';

let ready;

/** Load the core once; `wasm` overrides where outport_bg.wasm comes from (URL, Response, bytes or Module). */
export function initialize(wasm) {
  ready ??= init(wasm === undefined ? undefined : { module_or_path: wasm });
  return ready;
}

function requireHost(options, call) {
  if (!options?.host) throw new TypeError(`${call}: pass a host, e.g. { host: createMemoryHost({ files }) }`);
  return options.host;
}

/** As the Node `exportImage`; `hostPlatform` (default linux/amd64) stands for the build platform. */
export async function exportImage(options) {
  const host = requireHost(options, 'exportImage');
  await initialize();
  const env = { cwd: '/', hostPlatform: options.hostPlatform ?? 'linux/amd64', sourceDateEpoch: undefined };
  const request = JSON.stringify(exportRequest(options, env));
  const response = JSON.parse(await runAbortable(host, options.signal, (h) => core.run(h, request)));
  response.warnings.forEach((w) => (options.onWarning ?? console.warn)(w));
  return response.metadata;
}

/** Push images from the host's store (`name`, or several `names`), as the Node `push`. */
export async function push(options) {
  const host = requireHost(options, 'push');
  await initialize();
  const request = JSON.stringify(pushRequest(options));
  return pushAnswer(options, JSON.parse(await runAbortable(host, options.signal, (h) => core.push(h, request))));
}

/** The images in the host's store. */
export async function images(options) {
  const host = requireHost(options, 'images');
  await initialize();
  return JSON.parse(await runAbortable(host, options.signal, (h) => core.images(h)));
}
