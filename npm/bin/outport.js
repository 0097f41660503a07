#!/usr/bin/env node
'use strict';
// `npx outport export …`: the same command line as the native CLI, on the npm package.
const { exportImage, images, push, remove, storeVerify, storeGc } = require('../lib/index.js');
const core = require('../lib/assets.js').loadCore();
const { version } = require('../package.json');

const PROGRESS = {
  plain: (e) => process.stderr.write(`#progress ${e.phase} ${e.id} ${e.current}/${e.total}\n`),
  json: (e) => process.stderr.write(`${JSON.stringify({ phase: e.phase, id: e.id, current: e.current, total: e.total })}\n`),
};

/** The core's JSON without its nulls: the library's options leave absent what is unset. */
function defined(value) {
  if (Array.isArray(value)) return value.map(defined);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, defined(v)]));
}

/**
 * The command line, parsed by the core (src/cli: the same table, help and errors as the native
 * CLI). A usage error is one line and exit status 2.
 */
function parse(argv) {
  try {
    return defined(JSON.parse(core.parseArgs(argv, process.env)));
  } catch (err) {
    if (err.kind !== 'invalid-option') throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
}

async function main() {
  const parsed = parse(process.argv.slice(2));
  const { command, request = {}, host = {} } = parsed;
  if (command === 'version') return process.stdout.write(`outport ${version}\n`);
  if (command === 'help') return process.stdout.write(parsed.help);
  if (command === 'images') return listImages(host);
  if (command === 'push') return pushStored(request, host);
  if (command === 'rm') {
    const { removed } = await remove({ names: request.names, store: host.store });
    return removed.forEach((name) => process.stdout.write(`removed ${name}\n`));
  }
  if (command === 'store-verify' || command === 'store-gc') return maintainStore(command === 'store-verify' ? storeVerify : storeGc, host);
  if (command !== 'export') throw new Error(`the core parsed an unknown command ${JSON.stringify(command)}`);

  const { excludes, engineEnv, sourceDateEpoch, ...options } = request;
  const outputs = options.outputs ?? [];
  const metadata = await exportImage({
    ...options,
    exclude: excludes,
    signal: stopOnSignals(),
    threads: host.threads,
    stdoutDefault: true,
    store: host.store,
    onProgress: PROGRESS[host.progress],
    creds: host.creds,
    baseCreds: host.baseCreds,
    registryCa: host.registryCa,
  });
  const text = `${JSON.stringify(metadata, null, 2)}\n`;
  // stdout carries the tarball when an output writes there.
  const writesStdout = outputs.some((o) => o === '-' || o.split(',').includes('dest=-'));
  if (!writesStdout) process.stdout.write(text);
}

/**
 * SIGINT and SIGTERM stop the run at its next step: its temporary files are removed and the store
 * lock released before the process exits with 128 + the signal's number. Handling them also makes
 * them work when this runs as PID 1 in a container, where an unhandled signal is ignored.
 */
function stopOnSignals() {
  const controller = new AbortController();
  for (const [name, number] of [['SIGINT', 2], ['SIGTERM', 15]]) {
    process.once(name, () => {
      process.exitCode = 128 + number;
      stopped = name === 'SIGINT' ? 'interrupted' : 'terminated';
      controller.abort();
    });
  }
  return controller.signal;
}
let stopped = null;

/**
 * `outport push NAME…`, as the native CLI: every name pushed whatever became of the ones before it,
 * each one's metadata on stdout, each failure on stderr (with several names prefixed by the name,
 * then a line saying which were not pushed); exit status 1 if any failed.
 */
async function pushStored(request, host) {
  let results;
  try {
    results = await push({ ...request, store: host.store, creds: host.creds, registryCa: host.registryCa, onProgress: PROGRESS[host.progress] });
  } catch (err) {
    if (!err.results) throw err;
    results = err.results;
  }
  const failed = results.filter((r) => r.error);
  for (const result of results) if (!result.error) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (failed.length === 0) return;
  if (results.length === 1) throw new Error(failed[0].error.message);
  for (const { 'image.name': name, error } of failed) process.stderr.write(`error: ${name}: ${error.message}\n`);
  throw new Error(`${failed.length} of ${results.length} images not pushed: ${failed.map((r) => r['image.name']).join(', ')}`);
}

async function maintainStore(job, host) {
  const report = await job({ store: host.store });
  if (host.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else if (report.problems) {
    process.stdout.write(`${report.blobs} blobs, ${report.bytes} bytes, ${report.images} images checked\n`);
    for (const problem of report.problems) process.stdout.write(`problem: ${problem}\n`);
    for (const { path, size } of report.stale ?? []) {
      process.stdout.write(`stale: ${path} (${size} bytes), left by a run that was killed: \`outport store gc\` removes it\n`);
    }
  } else process.stdout.write(`removed ${report.removed} blobs and ${report.temporaries} temporary files (${report.freed} bytes), kept ${report.kept}\n`);
  if (report.problems?.length) throw new Error(`the store has ${report.problems.length} problem(s)`);
}

async function listImages(host) {
  const rows = await images({ store: host.store });
  if (host.json) return process.stdout.write(`${JSON.stringify(rows)}\n`);
  const line = (name, digest, size) => `${name.padEnd(60)} ${digest.padEnd(19)} ${String(size).padStart(8)}\n`;
  process.stdout.write(line('NAME', 'DIGEST', 'SIZE'));
  for (const row of rows) process.stdout.write(line(row.name, row.digest.slice(0, 19), row.size));
}

main().catch((err) => {
  if (stopped) {
    process.stderr.write(`error: ${stopped}: temporary files removed\n`);
    return;
  }
  process.stderr.write(`error: ${err.message}\n`);
  process.exitCode = 1;
});
