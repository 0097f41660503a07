'use strict';
// lib/memory-host.cjs, the in-memory host for CommonJS (`require('outport').createMemoryHost`: Node
// before 20.19 cannot require() an ES module), made from lib/memory-host.mjs, which browsers import
// as it is: its one export becomes module.exports. Run by build.sh; the made file is not committed.
const fs = require('node:fs');
const path = require('node:path');

const lib = path.join(__dirname, '..', 'lib');
const source = fs.readFileSync(path.join(lib, 'memory-host.mjs'), 'utf8');
const exported = source.match(/^export .*$/gm) ?? [];
if (exported.length !== 1 || !exported[0].startsWith('export function createMemoryHost(') || /^import\b/m.test(source)) {
  throw new Error('lib/memory-host.mjs: expected one export, `export function createMemoryHost(`, and no imports');
}
const header = "'use strict';\n// Made by npm/scripts/memory-host-cjs.js from memory-host.mjs: edit that file, not this one.\n\n";
const body = source.replace(/^export function createMemoryHost\(/m, 'function createMemoryHost(');
fs.writeFileSync(path.join(lib, 'memory-host.cjs'), `${header}${body}\nmodule.exports = { createMemoryHost };\n`);
