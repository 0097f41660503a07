'use strict';
// Every option of the API checked before anything runs, with the CLI's kind of error: one line
// naming the call, the option and what it expected (`kind: 'invalid-option'`). The table follows
// index.d.ts; test/options.test.mjs feeds every declared type and a wrong one to each option.
const { hostError } = require('./errors');

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** [test, what it expects] per kind of value. */
const KINDS = {
  string: [(v) => typeof v === 'string', 'a string'],
  boolean: [(v) => typeof v === 'boolean', 'true or false'],
  strings: [strings, 'an array of strings'],
  count: [(v) => Number.isInteger(v) && v >= 0, 'a whole number ≥ 0'],
  function: [(v) => typeof v === 'function', 'a function'],
  signal: [(v) => typeof AbortSignal !== 'undefined' && v instanceof AbortSignal, 'an AbortSignal'],
  host: [isObject, 'a host object (e.g. createMemoryHost())'],
  creds: [(v) => typeof v === 'string' || (isObject(v) && typeof v.username === 'string' && typeof v.password === 'string'), "'USER:SECRET' or { username, password }"],
  epoch: [(v) => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)), 'whole seconds, as a number or a string'],
  outputs: [(v) => Array.isArray(v) && v.every((o) => typeof o === 'string' || (isObject(o) && typeof o.type === 'string')), 'an array of output strings or { type, … } objects'],
  layers: [(v) => Array.isArray(v) && v.every((l) => typeof l === 'string' || (isObject(l) && typeof l.src === 'string' && (l.dest === undefined || typeof l.dest === 'string'))), 'an array of "SRC[:DEST]" strings or { src, dest } objects'],
  config: [isObject, 'an object of config settings'],
  provenance: [(v) => typeof v === 'boolean' || typeof v === 'string', "true, false or 'mode=min'"],
};

const CALL = { host: 'host', signal: 'signal', assetDir: 'string' };
const REGISTRY = { creds: 'creds', registryCa: 'string' };
const STORE_ONLY = { ...CALL, store: 'string' };

const SCHEMAS = {
  exportImage: {
    ...CALL,
    ...REGISTRY,
    rootfs: 'string',
    metadataFile: 'string',
    result: 'string',
    layers: 'layers',
    nodeApp: 'string',
    threads: 'count',
    owner: 'string',
    exclude: 'strings',
    outputs: 'outputs',
    sourceDateEpoch: 'epoch',
    tags: 'strings',
    push: 'boolean',
    load: 'boolean',
    strict: 'boolean',
    attestations: 'strings',
    sbom: 'boolean',
    provenance: 'provenance',
    allow: 'strings',
    platform: 'string',
    base: 'string',
    baseInsecure: 'boolean',
    baseCreds: 'creds',
    dockerHost: 'string',
    keepMtimes: 'boolean',
    annotations: 'strings',
    stdoutDefault: 'boolean',
    store: 'string',
    config: 'config',
    onProgress: 'function',
    onWarning: 'function',
  },
  push: { ...CALL, ...REGISTRY, name: 'string', names: 'strings', store: 'string', insecure: 'boolean', byDigest: 'boolean', onProgress: 'function' },
  images: STORE_ONLY,
  storeVerify: STORE_ONLY,
  storeGc: STORE_ONLY,
  remove: { ...STORE_ONLY, names: 'strings' },
};

const CONFIG = {
  configFile: 'string',
  labels: 'strings',
  env: 'strings',
  entrypoint: 'string',
  cmd: 'string',
  workdir: 'string',
  user: 'string',
  expose: 'strings',
  volumes: 'strings',
  stopSignal: 'string',
  healthcheck: 'object',
};

const HEALTHCHECK = { cmd: 'string', interval: 'string', timeout: 'string', startPeriod: 'string', startInterval: 'string', retries: 'count' };

function invalid(message) {
  return hostError('invalid-option', message);
}

/** Check `value`'s keys against `schema`; `where` names them in messages (e.g. "exportImage: config."). */
function checkFields(value, schema, where) {
  for (const [key, given] of Object.entries(value)) {
    const kind = schema[key];
    if (kind === undefined) {
      throw invalid(`${where}${key}: unknown option (known: ${Object.keys(schema).join(', ')})`);
    }
    if (given === undefined) continue;
    const [test, expected] = kind === 'object' ? [isObject, 'an object'] : KINDS[kind];
    if (!test(given)) {
      throw invalid(`${where}${key}: expected ${expected}, got ${describe(given)}`);
    }
  }
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}

/** `push` takes `name` (one image) or `names` (several), not both. */
function checkPushNames({ name, names }) {
  if (name === undefined && names === undefined) throw invalid('push: name: expected the stored image name, e.g. ghcr.io/owner/app:1 (or names: several)');
  if (name !== undefined && names !== undefined) throw invalid('push: give name or names, not both');
  if (names?.length === 0) throw invalid('push: names: name at least one image');
}

/** Throw an invalid-option error unless `options` fits the call's declared options. */
function checkOptions(call, options, { required = false } = {}) {
  if (options === undefined && !required) return;
  if (!isObject(options)) throw invalid(`${call}: expected an options object, got ${describe(options)}`);
  checkFields(options, SCHEMAS[call], `${call}: `);
  if (options.config !== undefined) {
    checkFields(options.config, CONFIG, `${call}: config.`);
    if (options.config.healthcheck !== undefined) checkFields(options.config.healthcheck, HEALTHCHECK, `${call}: config.healthcheck.`);
  }
  if (call === 'push') checkPushNames(options);
}

module.exports = { checkOptions, SCHEMAS };
