// Type-checked only (tsc --noEmit): how a Node ESM user calls outport. `@ts-expect-error` lines
// prove the declarations reject what the API rejects.
import { exportImage, push, images, storeVerify, createMemoryHost, outputString, type ExportMetadata, type OutportHost, type ProgressEvent, type PushResult } from 'outport';

const controller = new AbortController();
const meta: ExportMetadata = await exportImage({
  rootfs: './rootfs',
  outputs: ['type=oci,dest=out.tar', { type: 'registry', name: ['127.0.0.1:5000/app:1'], compression: 'zstd', 'compression-level': 3 }],
  layers: ['./app:/app', { src: './node_modules', dest: '/app/node_modules' }],
  config: { env: ['A=1'], healthcheck: { cmd: '["CMD","true"]', retries: 3 } },
  signal: controller.signal,
  onProgress: (event: ProgressEvent) => console.log(event.phase, event.current, event.total),
});
const digest: string = meta['containerimage.digest'];
await push({ name: '127.0.0.1:5000/app:1', insecure: true, creds: { username: 'u', password: 'p' } });
const pushed: PushResult[] = await push({ names: ['127.0.0.1:5000/app:1', '127.0.0.1:5000/app:2'], insecure: true });
pushed.forEach((result) => result['containerimage.digest'].toUpperCase());
const list = await images({ store: '/tmp/store' });
list.forEach((image) => image.name.toUpperCase());
const report = await storeVerify();
report.problems.length;

const memory = createMemoryHost({ files: { '/src/a.txt': 'hi', '/src/bin': { symlink: 'a.txt' } }, defaults: { mtime: 0 } });
const host: OutportHost = memory;
await exportImage({ host, rootfs: '/src', outputs: [{ type: 'oci', dest: '/out.tar' }] });
const bytes: Uint8Array | undefined = memory.readOutput('/out.tar');
const spec: string = outputString({ type: 'tar', dest: '-' });

// @ts-expect-error: an output object needs a known type
await exportImage({ outputs: [{ type: 'zip', dest: 'x' }] });
// @ts-expect-error: compression is one of four
await exportImage({ outputs: [{ type: 'oci', compression: 'brotli' }] });
// @ts-expect-error: a key typo is a compile error (compresion)
await exportImage({ outputs: [{ type: 'oci', dest: 'x', compresion: 'zstd' }] });
// @ts-expect-error: local outputs take no image options
await exportImage({ outputs: [{ type: 'local', dest: 'x', compression: 'zstd' }] });
await exportImage({ outputs: [{ type: 'image', name: 'a:1', 'annotation-manifest[linux/arm64].org.x': 'y', unpack: true }] });
await exportImage({ outputs: [{ type: 'docker', name: 'a:1' }], load: true, dockerHost: 'unix:///run/podman/podman.sock' });
// @ts-expect-error: phases are the real ones
const phase: ProgressEvent['phase'] = 'uploading';
// @ts-expect-error: push needs a name
await push({});
// @ts-expect-error: names is a list
await push({ names: 'app:1' });
// @ts-expect-error: a memory file is text, bytes or a description
createMemoryHost({ files: { '/a': 42 } });
export { digest, bytes, spec, phase };
