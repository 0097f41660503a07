#!/usr/bin/env node
'use strict';
// `npx outport export …`: the same command line as the native CLI, on the npm package.
const { parseArgs } = require('node:util');
const { exportImage, images, push, storeVerify, storeGc } = require('../lib/index.js');
const { version } = require('../package.json');

const USAGE = `Usage: outport export [ROOTFS] [-o|--output SPEC]... [options]
       outport images [--store DIR] [--json]
       outport store verify|gc [--store DIR] [--json]
       outport push NAME [--store DIR] [--insecure] [--by-digest] [--creds USER:SECRET] [--registry-ca FILE]

Export container images exactly as docker buildx --output would.

Options:
  -o, --output SPEC        output, as docker buildx build --output takes it (repeatable; default: type=image)
  -t, --tag NAME           name the image (replaces name= of image, oci and docker outputs; repeatable)
      --push               shorthand for --output type=registry
      --load               load the image into the Docker engine (type=docker without dest)
      --docker-host ADDR   the engine for --load (default: $DOCKER_HOST, docker context, default sockets)
      --strict             treat warnings (unknown option keys, …) as errors
      --annotation A       [TYPE[,TYPE…][[PLATFORM]]:]KEY=VALUE on every image output (buildx's syntax)
      --keep-mtimes        keep the files' own mtimes in --layer/--node-app layers (default: the epoch, else 0)
      --attest SPEC        attach type=sbom|provenance,path=FILE (repeatable)
      --allow ENT          entitlement: buildx.local.delete (mode=delete outside the working dir)
      --platform P         target platform OS/ARCH[/VARIANT] (default: the base image's, else this machine's)
      --base REF           build on this image: host/repo:tag, host/repo@sha256:…, oci:DIR[:TAG],
                           oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME]
      --base-insecure      allow plain HTTP or an unverified certificate for the base image's registry
      --base-creds U:S     credentials for pulling the --base image (default: docker's config.json)
      --result FILE        multi-platform build result (JSON) instead of ROOTFS
      --layer SRC[:DEST]   add a layer from a directory, file or layer tarball at DEST (default /; repeatable)
      --node-app DIR       Node.js app: node_modules and the rest as two layers at the workdir (default /app)
      --owner UID:GID      owner of every entry of the layers built from sources
      --exclude PATTERN    leave matching paths out of directory sources (.dockerignore syntax; repeatable)
      --store DIR          content store directory (default: $OUTPORT_STORE or $XDG_DATA_HOME/outport/store)
      --metadata-file F    also write the result metadata (buildx keys) as JSON to F
      --config FILE        image config JSON to start from
      --label K=V          add a label (repeatable)
      --env K=V            set an environment variable (repeatable)
      --entrypoint CMD     JSON array (exec form) or a string run by /bin/sh -c
      --cmd CMD            default command, same forms as --entrypoint
      --workdir DIR        working directory
      --user USER          user the container runs as
      --expose PORT        expose PORT[/tcp|udp|sctp] (repeatable)
      --volume PATH        declare a volume at an absolute path (repeatable)
      --stop-signal SIG    signal that stops the container, e.g. SIGQUIT
      --healthcheck-cmd C  health check: JSON array (exec form), a shell string, or NONE
      --healthcheck-interval|-timeout|-start-period|-start-interval D   Go durations (30s, 1m30s)
      --healthcheck-retries N   failures before unhealthy
      --threads N          threads compressing layer pieces (default: $OUTPORT_THREADS, else CPUs up to 4;
                           0: none); the bytes are the same whatever the number
      --progress MODE      auto, plain, json (one event per line) or quiet
      --creds USER:SECRET  credentials for the registry pushed to (default: $OUTPORT_REGISTRY_USER and
                           $OUTPORT_REGISTRY_TOKEN, then docker's config.json and credential helpers)
      --registry-ca FILE   also trust this PEM CA bundle for registries' TLS certificates
      --insecure           (push) allow plain HTTP or an unverified certificate for the registry
      --json               (images) print JSON instead of a table
  -h, --help               show this help
  -V, --version            show the version
`;

const OPTIONS = {
  output: { type: 'string', short: 'o', multiple: true },
  tag: { type: 'string', short: 't', multiple: true },
  push: { type: 'boolean' },
  load: { type: 'boolean' },
  strict: { type: 'boolean' },
  attest: { type: 'string', multiple: true },
  allow: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  insecure: { type: 'boolean' },
  creds: { type: 'string' },
  'base-creds': { type: 'string' },
  'registry-ca': { type: 'string' },
  'by-digest': { type: 'boolean' },
  platform: { type: 'string' },
  base: { type: 'string' },
  'base-insecure': { type: 'boolean' },
  'docker-host': { type: 'string' },
  result: { type: 'string' },
  layer: { type: 'string', multiple: true },
  threads: { type: 'string' },
  'node-app': { type: 'string' },
  owner: { type: 'string' },
  exclude: { type: 'string', multiple: true },
  'keep-mtimes': { type: 'boolean' },
  annotation: { type: 'string', multiple: true },
  store: { type: 'string' },
  'metadata-file': { type: 'string' },
  config: { type: 'string' },
  label: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  entrypoint: { type: 'string' },
  cmd: { type: 'string' },
  workdir: { type: 'string' },
  user: { type: 'string' },
  expose: { type: 'string', multiple: true },
  volume: { type: 'string', multiple: true },
  'stop-signal': { type: 'string' },
  'healthcheck-cmd': { type: 'string' },
  'healthcheck-interval': { type: 'string' },
  'healthcheck-timeout': { type: 'string' },
  'healthcheck-start-period': { type: 'string' },
  'healthcheck-start-interval': { type: 'string' },
  'healthcheck-retries': { type: 'string' },
  progress: { type: 'string', default: 'auto' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

const PROGRESS = {
  plain: (e) => process.stderr.write(`#progress ${e.phase} ${e.id} ${e.current}/${e.total}\n`),
  json: (e) => process.stderr.write(`${JSON.stringify({ phase: e.phase, id: e.id, current: e.current, total: e.total })}\n`),
};

/** --threads as a number (undefined: the default). */
function threadCount(text) {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 256) usageError(`--threads ${JSON.stringify(text)}: expected a whole number up to 256`);
  return Number(text);
}

/** --healthcheck-retries as a number; anything else is a usage error naming the flag. */
function retries(text) {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) usageError(`--healthcheck-retries ${JSON.stringify(text)}: expected a whole number`);
  return Number(text);
}

function usageError(message) {
  process.stderr.write(`error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

/** `docker buildx build` flags a user may type out of habit: one line each (as the native CLI's). */
const BUILD_FLAGS = {
  '--build-arg': 'outport exports a build result and does not build: build first (e.g. docker buildx build -o type=local,dest=rootfs .), then outport export rootfs',
  '--file': 'outport exports a build result and does not read a Dockerfile: build first, then outport export the result',
  '-f': 'outport exports a build result and does not read a Dockerfile: build first, then outport export the result',
  '--target': 'outport exports a build result and has no build stages: build the stage first, then outport export it',
  '--secret': 'outport does not build, so there is no build step to give secrets to',
  '--ssh': 'outport does not build, so there is no build step to forward ssh to',
  '--cache-to': 'outport has no build cache to export: its own layer cache is in the store (--store)',
  '--cache-from': 'outport has no build cache to import: its own layer cache is in the store (--store)',
  '--sbom': 'not supported yet: attach an SBOM you made with --attest type=sbom,path=FILE',
  '--provenance': 'not supported yet: attach provenance you made with --attest type=provenance,path=FILE',
};

function parse(argv) {
  if (argv[0] === 'export') {
    const end = argv.indexOf('--');
    for (const arg of end < 0 ? argv : argv.slice(0, end)) {
      const name = arg.split('=')[0];
      if (Object.hasOwn(BUILD_FLAGS, name)) {
        process.stderr.write(`error: ${name} is a docker buildx build flag; ${BUILD_FLAGS[name]}\n`);
        process.exit(2);
      }
    }
  }
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    return usageError(err.message);
  }
}

async function main() {
  const { values, positionals } = parse(process.argv.slice(2));
  if (values.version) return process.stdout.write(`outport ${version}\n`);
  if (values.help || positionals.length === 0) return process.stdout.write(USAGE);
  const [command, ...rest] = positionals;
  if (command === 'images') return listImages(values);
  if (command === 'push') return pushStored(rest, values);
  if (command === 'store') return maintainStore(rest, values);
  if (command !== 'export') usageError(`unknown command ${JSON.stringify(command)}`);
  if (rest.length > 1) usageError(`unexpected argument ${JSON.stringify(rest[1])}`);
  if (!['auto', 'plain', 'json', 'quiet'].includes(values.progress)) usageError(`--progress must be auto, plain, json or quiet`);

  const outputs = values.output ?? [];
  const onProgress = PROGRESS[values.progress];
  const metadata = await exportImage({
    metadataFile: values['metadata-file'],
    signal: stopOnSignals(),
    rootfs: rest[0],
    result: values.result,
    layers: values.layer ?? [],
    threads: threadCount(values.threads),
    nodeApp: values['node-app'],
    owner: values.owner,
    exclude: values.exclude ?? [],
    keepMtimes: values['keep-mtimes'] ?? false,
    annotations: values.annotation ?? [],
    stdoutDefault: true,
    outputs,
    tags: values.tag ?? [],
    push: values.push ?? false,
    load: values.load ?? false,
    strict: values.strict ?? false,
    attestations: values.attest ?? [],
    allow: values.allow ?? [],
    platform: values.platform,
    base: values.base,
    baseInsecure: values['base-insecure'] ?? false,
    dockerHost: values['docker-host'],
    store: values.store,
    onProgress,
    creds: values.creds,
    baseCreds: values['base-creds'],
    registryCa: values['registry-ca'],
    config: {
      configFile: values.config,
      labels: values.label ?? [],
      env: values.env ?? [],
      entrypoint: values.entrypoint,
      cmd: values.cmd,
      workdir: values.workdir,
      user: values.user,
      expose: values.expose ?? [],
      volumes: values.volume ?? [],
      stopSignal: values['stop-signal'],
      healthcheck: {
        cmd: values['healthcheck-cmd'],
        interval: values['healthcheck-interval'],
        timeout: values['healthcheck-timeout'],
        startPeriod: values['healthcheck-start-period'],
        startInterval: values['healthcheck-start-interval'],
        retries: retries(values['healthcheck-retries']),
      },
    },
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

async function pushStored(rest, values) {
  if (rest.length !== 1) usageError('push takes exactly one NAME');
  const metadata = await push({
    name: rest[0],
    store: values.store,
    insecure: values.insecure ?? false,
    byDigest: values['by-digest'] ?? false,
    creds: values.creds,
    registryCa: values['registry-ca'],
    onProgress: PROGRESS[values.progress],
  });
  process.stdout.write(`${JSON.stringify(metadata, null, 2)}\n`);
}

async function maintainStore(rest, values) {
  if (rest.length !== 1 || !['verify', 'gc'].includes(rest[0])) usageError('store takes one action: verify or gc');
  const report = await (rest[0] === 'verify' ? storeVerify : storeGc)({ store: values.store });
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else if (report.problems) {
    process.stdout.write(`${report.blobs} blobs, ${report.bytes} bytes, ${report.images} images checked\n`);
    for (const problem of report.problems) process.stdout.write(`problem: ${problem}\n`);
    for (const { path, size } of report.stale ?? []) {
      process.stdout.write(`stale: ${path} (${size} bytes), left by a run that was killed: \`outport store gc\` removes it\n`);
    }
  } else process.stdout.write(`removed ${report.removed} blobs and ${report.temporaries} temporary files (${report.freed} bytes), kept ${report.kept}\n`);
  if (report.problems?.length) throw new Error(`the store has ${report.problems.length} problem(s)`);
}

async function listImages(values) {
  const rows = await images({ store: values.store });
  if (values.json) return process.stdout.write(`${JSON.stringify(rows)}\n`);
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
