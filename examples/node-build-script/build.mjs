#!/usr/bin/env node
// Containerize the Node app in ./app onto a Node base image and push it, from a build script: no
// Dockerfile, no Docker. node_modules becomes one layer and the app another, so a code-only change
// re-pushes only the small layer.
//
//   node build.mjs --base node:20-alpine --image ghcr.io/OWNER/hello-app:1
//   (GHCR: OUTPORT_REGISTRY_USER=OWNER OUTPORT_REGISTRY_TOKEN=$GITHUB_TOKEN, or a docker login)
//
// In your own project: `npm install outport` and import from 'outport'.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exportImage } from '../../npm/lib/index.mjs';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'node:20-alpine' },
    image: { type: 'string' },
    insecure: { type: 'boolean', default: false },
    port: { type: 'string', default: '8080' },
  },
});
if (!values.image) {
  console.error('usage: node build.mjs --image REGISTRY/REPO:TAG [--base IMAGE] [--insecure]');
  process.exit(2);
}

const app = path.join(import.meta.dirname, 'app');
// Blobs the registry did not have yet: their upload starts at byte 0 (skipped ones report only an end).
const uploaded = new Set();
const metadata = await exportImage({
  base: values.base,
  baseInsecure: values.insecure,
  nodeApp: app,
  config: { env: [`PORT=${values.port}`, 'NODE_ENV=production'], expose: [`${values.port}/tcp`], healthcheck: { cmd: `["CMD","wget","-qO-","http://127.0.0.1:${values.port}/"]`, interval: '30s' } },
  outputs: [{ type: 'registry', name: values.image, 'registry.insecure': values.insecure || undefined }],
  onProgress: ({ phase, id, current, total }) => {
    if (phase === 'push' && id.startsWith('sha256:') && current === 0 && total > 0) uploaded.add(id);
  },
});
console.log(`pushed ${values.image}@${metadata['containerimage.digest']} (${uploaded.size} blobs uploaded)`);
