// Headless Chromium (Debian's chromium, driven by playwright-core) on pages served from 127.0.0.1
// that can import the npm package's files as `/npm/…` (lib/browser.mjs, wasm-web/): the setup the
// browser tests share.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const repo = path.resolve(import.meta.dirname, '..', '..');
const npm = path.join(repo, 'npm');
const { chromium } = createRequire(path.join(npm, 'package.json'))('playwright-core');
const TYPES = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** Start the server and the browser; `newPage()` opens a blank page of that origin. */
export async function startChromium() {
  const server = http.createServer((req, res) => {
    const file = path.join(repo, path.normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    if (!file.startsWith(npm + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html' });
      return res.end('<!doctype html><title>outport</title>');
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  return {
    async newPage() {
      const page = await browser.newPage();
      await page.goto(base);
      return page;
    },
    async close() {
      await browser.close();
      server.close();
    },
  };
}
