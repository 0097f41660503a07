// Bundles the extension with esbuild into dist/extension.js, as extensions are shipped, and copies
// outport's run-time files beside it: the core (outport.js, outport_bg.wasm) and its compression
// threads' script (compress-worker.js), which a bundler cannot inline; the bundled package looks for
// them beside the bundle. `npm install && npm run build` (or `node build.js --outdir DIR`).
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
// In your extension: require('outport').
const { assetFiles } = require('../../npm');

const at = process.argv.indexOf('--outdir');
const outdir = path.resolve(at > 0 ? process.argv[at + 1] : path.join(__dirname, 'dist'));

const result = esbuild.buildSync({
  entryPoints: [path.join(__dirname, 'extension.js')],
  outfile: path.join(outdir, 'extension.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The editor's API is the extension host's, not a file to bundle.
  external: ['vscode'],
  logLevel: 'warning',
});
if (result.errors.length > 0) process.exit(1);
for (const file of assetFiles()) fs.copyFileSync(file, path.join(outdir, path.basename(file)));
console.log(`bundled into ${outdir}: extension.js, ${assetFiles().map((f) => path.basename(f)).join(', ')}`);
