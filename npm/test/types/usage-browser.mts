// The browser entry's declarations: every call takes a host.
import { initialize, exportImage, createMemoryHost } from 'outport/browser';

await initialize(new URL('https://example.invalid/outport_bg.wasm'));
const host = createMemoryHost({ files: { '/src/index.html': '<p>hi</p>' } });
const meta = await exportImage({ host, rootfs: '/src', outputs: [{ type: 'oci', dest: '/image.tar' }], hostPlatform: 'linux/arm64' });
const image: Uint8Array | undefined = host.readOutput('/image.tar');
// @ts-expect-error: no host, no file system
await exportImage({ rootfs: '/src' });
export { meta, image };
