'use strict';
// The files outport loads at run time instead of through require(): the core (wasm-bindgen's Node
// glue, outport.js, which reads outport_bg.wasm from its own directory) and the compression
// threads' script. A bundler (esbuild, webpack) inlines the JavaScript it can follow but not these,
// so a bundled program (an editor extension) carries them as files: beside its bundle, or in a
// directory it names with `assetDir`.
const fs = require('node:fs');
const path = require('node:path');
const { hostError } = require('./errors');

/** Each asset and where the package keeps it, relative to lib/. */
const ASSETS = { 'outport.js': '../wasm', 'outport_bg.wasm': '../wasm', 'compress-worker.js': '.' };

/**
 * The path of asset `name`: in `assetDir` when one is given; else where the package keeps it; else
 * beside the code (in a bundle, this file's directory is the bundle's).
 */
function assetPath(name, assetDir) {
  const places = assetDir ? [path.resolve(assetDir)] : [...new Set([path.join(__dirname, ASSETS[name]), __dirname])];
  const found = places.map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
  if (found) return found;
  const where = places.join(' or ');
  throw hostError(
    assetDir ? 'invalid-option' : 'internal',
    `outport's ${name} is not in ${where}: a bundled program carries the package's assets (assetFiles(): ${Object.keys(ASSETS).join(', ')}) beside its bundle, or in the directory assetDir names`,
  );
}

/** The files a bundled program must carry (copy them beside the bundle, or into `assetDir`). */
function assetFiles() {
  return Object.keys(ASSETS).map((name) => assetPath(name));
}

// Node's own require, which bundlers leave alone (webpack would replace a plain `require` of a
// computed path; esbuild leaves it as it is).
// eslint-disable-next-line no-undef
const runtimeRequire = typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require;

/** The core, from `assetDir` or the package; Node's module cache keeps one instance per file. */
function loadCore(assetDir) {
  return runtimeRequire(assetPath('outport.js', assetDir));
}

module.exports = { assetFiles, assetPath, loadCore };
