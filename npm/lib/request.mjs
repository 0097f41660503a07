// What every JS entry point (Node CommonJS and ESM, browsers) shares: turning API options into the
// core's JSON requests, and cancelling a run through an AbortSignal. No Node APIs here.

/**
 * The core's export request from `exportImage` options. `env` says what the caller's platform knows:
 * `{ cwd, hostPlatform, sourceDateEpoch, hostWrites, engineEnv }` (hostWrites: paths the host writes
 * itself, e.g. its store; engineEnv: the DOCKER_* variables the Docker engine is found by).
 */
export function exportRequest(options, env) {
  const { rootfs, result, layers = [], nodeApp, owner, exclude = [], outputs = [], tags = [], push = false, load = false, strict = false, attestations = [], sbom = false, provenance, allow = [], platform, base, baseInsecure = false, config, metadataFile, dockerHost, keepMtimes = false, annotations = [], stdoutDefault = false } = options ?? {};
  // Wall-clock time with a sub-millisecond fraction where `performance` has one (Node, browsers).
  const nowMs = globalThis.performance?.timeOrigin ? performance.timeOrigin + performance.now() : Date.now();
  return {
    rootfs,
    result,
    layers,
    nodeApp,
    owner,
    excludes: exclude,
    outputs: [].concat(outputs).map(outputString),
    tags,
    push,
    load,
    strict,
    attestations,
    sbom,
    // `true` means mode=min, as buildx's --provenance=true does.
    provenance: provenance === true ? 'mode=min' : provenance === false ? undefined : provenance,
    allow,
    cwd: env.cwd,
    platform,
    base,
    baseInsecure,
    hostPlatform: env.hostPlatform,
    // A number is as good as a string (index.d.ts allows both; the core parses the text).
    sourceDateEpoch: options?.sourceDateEpoch === undefined ? env.sourceDateEpoch : String(options.sourceDateEpoch),
    now: Math.floor(nowMs / 1000),
    // Config and history times carry the fraction of the second, as Go's time.Time marshals them.
    nowNanos: Math.min(999_999_999, Math.floor((nowMs % 1000) * 1e6)),
    config: config ?? {},
    metadataFile,
    hostWrites: env.hostWrites ?? [],
    dockerHost,
    engineEnv: env.engineEnv ?? {},
    keepMtimes,
    annotations,
    // A library call must say dest: '-' to write on its process's stdout (the CLI need not).
    explicitStdout: !stdoutDefault,
  };
}

/** The core's push request from `push` options: `name` (one image) or `names` (several). */
export function pushRequest(options) {
  const { name, names, insecure = false, byDigest = false } = options ?? {};
  return names === undefined ? { name, insecure, byDigest } : { names, insecure, byDigest };
}

/**
 * What `push` resolves to, from the core's answer: for `name` its metadata; for `names` the array
 * of each one's metadata, in order. When some of several failed (each is pushed whatever became of
 * the ones before it) it throws one error naming them, whose `results` holds every name's metadata
 * or `{ 'image.name', error: { kind, message } }`.
 */
export function pushAnswer(options, answer) {
  if (options?.names === undefined) return answer;
  const { results } = answer;
  const failed = results.filter((r) => r.error);
  if (failed.length === 0) return results;
  const reasons = failed.map((r) => `${r['image.name']} (${r.error.message})`).join(', ');
  const error = new Error(`push: ${failed.length} of ${results.length} images not pushed: ${reasons}`);
  throw Object.assign(error, { kind: failed[0].error.kind, results });
}

/**
 * An `--output` value from a string (as docker buildx takes it) or a typed object
 * (`{ type: 'oci', dest: 'out.tar', compression: 'zstd' }`: keys and values as in the string form;
 * arrays, as for `name`, are joined with commas). Fields are quoted as CSV when they need it.
 */
export function outputString(output) {
  if (typeof output === 'string') return output;
  if (output === null || typeof output !== 'object' || typeof output.type !== 'string') {
    throw new TypeError('an output is a string like "type=oci,dest=out.tar" or an object with a type');
  }
  return Object.entries(output)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => {
      const field = `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`;
      return /[",\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
    })
    .join(',');
}

/** Host methods that clean up: they must still run after an abort. */
const CLEANUP = new Set(['sourceClose', 'blobAbort', 'outputAbort', 'compressWait', 'progress']);

/**
 * `host`, failing every call after `signal` aborts (except the clean-up ones), so the core stops at
 * its next step, removes what it had started and rejects; the caller then rejects with the reason.
 */
export function abortable(host, signal) {
  if (!signal) return host;
  const wrapped = {};
  for (const [key, value] of Object.entries(host)) {
    wrapped[key] =
      typeof value !== 'function' || CLEANUP.has(key)
        ? value
        : (...args) => {
            if (signal.aborted) throw Object.assign(new Error('aborted'), { kind: 'internal' });
            return key === 'sleep' ? Promise.race([value.apply(host, args), aborted(signal)]) : value.apply(host, args);
          };
  }
  return wrapped;
}

const aborted = (signal) => new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));

/** Run `job(host)` and, if `signal` aborted meanwhile, reject with its reason instead. */
export async function runAbortable(host, signal, job) {
  signal?.throwIfAborted();
  try {
    return await job(abortable(host, signal));
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}
