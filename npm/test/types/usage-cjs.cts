// The CommonJS entry's declarations.
import outport = require('outport');

async function main(): Promise<string> {
  const meta = await outport.exportImage({ rootfs: 'rootfs', outputs: ['type=tar,dest=out.tar'] });
  const host = outport.createNodeHost({ threads: 0 });
  host.dispose();
  return meta['containerimage.digest'] + outport.hostPlatform();
}
export = main;
