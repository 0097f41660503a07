// Attestations users expect from buildx (issue 20.9), through the npm API: `sbom: true` with a node
// app attaches an SPDX SBOM of node_modules and `provenance: 'mode=min'` a minimal SLSA provenance,
// both as BuildKit attaches them (an attestation manifest per platform image), read back from a real
// registry with skopeo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from './support/registry.mjs';

const repo = path.resolve(import.meta.dirname, '..');
const { exportImage } = createRequire(import.meta.url)(path.join(repo, 'npm'));
const EPOCH = 1700000000;

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'outport-supply-'));
const raw = (ref) => execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' });
const sha256 = (data) => `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
const write = (file, text) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
};

function nodeApp(work) {
  const app = path.join(work, 'app');
  write(path.join(app, 'package.json'), '{"name":"demo-app","version":"1.0.0","scripts":{"start":"node ."}}');
  write(path.join(app, 'index.js'), 'console.log(1);\n');
  write(path.join(app, 'node_modules', 'left-pad', 'package.json'), '{"name":"left-pad","version":"1.3.0","license":"WTFPL"}');
  write(path.join(app, 'node_modules', '@scope', 'util', 'package.json'), '{"name":"@scope/util","version":"2.0.1","license":"MIT"}');
  write(path.join(app, 'node_modules', '.bin', 'x'), '#!/bin/sh\n');
  write(path.join(app, 'package-lock.json'), JSON.stringify({
    name: 'demo-app',
    lockfileVersion: 3,
    packages: {
      '': { name: 'demo-app' },
      'node_modules/left-pad': { version: '1.3.0', resolved: 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz', integrity: `sha512-${Buffer.from('left-pad').toString('base64')}` },
      'node_modules/@scope/util': { version: '2.0.1', integrity: `sha512-${Buffer.from('util').toString('base64')}` },
    },
  }));
  return app;
}

test('npm: sbom and provenance attach as buildx attaches them, read back with skopeo', async () => {
  const registry = await startRegistry();
  try {
    const work = tempDir();
    const baseRoot = path.join(work, 'base-rootfs');
    write(path.join(baseRoot, 'usr', 'local', 'bin', 'node'), '#!/bin/sh\n');
    const base = `${registry.addr}/node:22`;
    await exportImage({ rootfs: baseRoot, outputs: [`type=registry,name=${base},registry.insecure=true`], store: path.join(work, 'base-store') });
    const baseDigest = sha256(raw(base));

    const app = nodeApp(work);
    const push = (tag) =>
      exportImage({
        nodeApp: app,
        base,
        baseInsecure: true,
        sbom: true,
        provenance: 'mode=min',
        sourceDateEpoch: EPOCH,
        creds: 'someone:secret-never-in-provenance',
        outputs: [`type=registry,name=${registry.addr}/app:${tag},registry.insecure=true`],
        store: path.join(work, 'store'),
        onWarning: (w) => assert.match(w, /oci-mediatype mode .*attestations needs it/),
      });
    const metadata = await push(1);

    const index = JSON.parse(raw(`${registry.addr}/app:1`));
    assert.equal(metadata['containerimage.digest'], sha256(raw(`${registry.addr}/app:1`)));
    assert.equal(index.manifests.length, 2, 'the image and its attestation manifest');
    const [image, attestation] = index.manifests;
    assert.deepEqual(attestation.platform, { architecture: 'unknown', os: 'unknown' });
    assert.equal(attestation.annotations['vnd.docker.reference.type'], 'attestation-manifest');
    assert.equal(attestation.annotations['vnd.docker.reference.digest'], image.digest);
    const manifest = JSON.parse(raw(`${registry.addr}/app@${attestation.digest}`));
    assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.annotations['in-toto.io/predicate-type']]), [
      ['application/vnd.in-toto+json', 'https://spdx.dev/Document'],
      ['application/vnd.in-toto+json', 'https://slsa.dev/provenance/v0.2'],
    ]);

    // The statements themselves, from a full copy of the index.
    const copy = path.join(work, 'copy');
    execFileSync('skopeo', ['copy', '-q', '--multi-arch', 'all', '--src-tls-verify=false', `docker://${registry.addr}/app:1`, `oci:${copy}`]);
    const blob = (digest) => JSON.parse(fs.readFileSync(path.join(copy, 'blobs', ...digest.split(':')), 'utf8'));
    const [sbom, provenance] = manifest.layers.map((l) => blob(l.digest));
    for (const statement of [sbom, provenance]) {
      assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
      assert.deepEqual(statement.subject.map((s) => s.digest.sha256), [image.digest.slice('sha256:'.length)]);
      assert.match(statement.subject[0].name, /^pkg:docker\/127\.0\.0\.1%3A\d+\/app@1\?platform=linux%2F/);
    }

    const spdx = sbom.predicate;
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    assert.equal(spdx.name, 'demo-app');
    assert.equal(spdx.creationInfo.created, '2023-11-14T22:13:20Z');
    const packages = spdx.packages.map((p) => ({
      name: p.name,
      version: p.versionInfo,
      license: p.licenseDeclared,
      purl: p.externalRefs[0].referenceLocator,
      checksums: p.checksums,
      download: p.downloadLocation,
    }));
    assert.deepEqual(packages, [
      { name: '@scope/util', version: '2.0.1', license: 'MIT', purl: 'pkg:npm/%40scope/util@2.0.1', checksums: [{ algorithm: 'SHA512', checksumValue: Buffer.from('util').toString('hex') }], download: 'NOASSERTION' },
      { name: 'left-pad', version: '1.3.0', license: 'WTFPL', purl: 'pkg:npm/left-pad@1.3.0', checksums: [{ algorithm: 'SHA512', checksumValue: Buffer.from('left-pad').toString('hex') }], download: 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz' },
    ]);

    const slsa = provenance.predicate;
    assert.match(slsa.builder.id, /^pkg:cargo\/outport@/);
    assert.equal(slsa.buildType, 'urn:outport:export@v1');
    assert.equal(slsa.metadata.buildStartedOn, '2023-11-14T22:13:20Z');
    assert.equal(slsa.invocation.parameters.nodeApp, app);
    assert.equal(slsa.invocation.parameters.base, base);
    const platform = encodeURIComponent(`${image.platform.os}/${image.platform.architecture}`);
    assert.deepEqual(slsa.materials, [{ uri: `pkg:docker/${encodeURIComponent(registry.addr)}/node@22?platform=${platform}`, digest: { sha256: baseDigest.slice('sha256:'.length) } }]);
    assert.ok(!JSON.stringify(provenance).includes('secret'), 'no credentials in the provenance');

    // The same export with the same epoch gives the same bytes (the statements' subjects name the tag).
    assert.equal((await push(1))['containerimage.digest'], metadata['containerimage.digest']);
  } finally {
    registry.close();
  }
});

test('npm: sbom without a node app, provenance modes outport lacks, and wrong types are refused', async () => {
  const work = tempDir();
  const store = path.join(work, 'store');
  const rootfs = path.join(repo, 'examples', 'rootfs');
  await assert.rejects(exportImage({ rootfs, store, sbom: true, outputs: ['type=cacheonly'] }), /sbom: the SBOM lists --node-app's node_modules/);
  await assert.rejects(exportImage({ rootfs, store, provenance: 'mode=max', outputs: ['type=cacheonly'] }), /only mode=min is supported/);
  await assert.rejects(exportImage({ rootfs, store, sbom: 'yes', outputs: ['type=cacheonly'] }), /sbom: expected true or false/);
  const app = nodeApp(work);
  write(path.join(work, 'sbom.json'), '{}');
  await assert.rejects(
    exportImage({ nodeApp: app, store, sbom: true, attestations: [`type=sbom,path=${path.join(work, 'sbom.json')}`], onWarning: () => {}, outputs: ['type=cacheonly'] }),
    /give only one of them/,
  );
});

test('npm: two platforms from one call share the app layers, each with its own provenance', async () => {
  const registry = await startRegistry();
  try {
    const work = tempDir();
    const platforms = [];
    for (const arch of ['amd64', 'arm64']) {
      write(path.join(work, 'base', arch, `node-${arch}`), `node for ${arch}\n`);
      platforms.push({ platform: `linux/${arch}`, layers: [arch] });
    }
    write(path.join(work, 'base', 'result.json'), JSON.stringify({ platforms }));
    const base = `${registry.addr}/node:22`;
    await exportImage({ result: path.join(work, 'base', 'result.json'), outputs: [`type=registry,name=${base},registry.insecure=true`], store: path.join(work, 'base-store') });
    const baseDigest = sha256(raw(base));

    const app = nodeApp(work);
    write(path.join(app, 'node_modules', 'left-pad', 'prebuilt', 'pad.node'), '\x7fELF');
    const warnings = [];
    await exportImage({
      nodeApp: app,
      base,
      baseInsecure: true,
      platform: 'linux/amd64,linux/arm64',
      provenance: true,
      sourceDateEpoch: EPOCH,
      outputs: [`type=registry,name=${registry.addr}/app:1,registry.insecure=true`],
      store: path.join(work, 'store'),
      onWarning: (w) => warnings.push(w),
    });
    assert.ok(warnings.some((w) => w.includes('native addons') && w.includes('node_modules/left-pad/prebuilt/pad.node')), warnings.join('\n'));

    const index = JSON.parse(raw(`${registry.addr}/app:1`));
    assert.deepEqual(index.manifests.map((m) => m.platform.architecture), ['amd64', 'arm64', 'unknown', 'unknown']);
    const manifest = (digest) => JSON.parse(raw(`${registry.addr}/app@${digest}`));
    const [amd64, arm64] = index.manifests.slice(0, 2).map((m) => manifest(m.digest).layers.map((l) => l.digest));
    assert.notEqual(amd64[0], arm64[0]);
    assert.deepEqual(amd64.slice(1), arm64.slice(1), 'the same app layer blobs on both platforms');

    const copy = path.join(work, 'copy');
    execFileSync('skopeo', ['copy', '-q', '--multi-arch', 'all', '--src-tls-verify=false', `docker://${registry.addr}/app:1`, `oci:${copy}`]);
    const blob = (digest) => JSON.parse(fs.readFileSync(path.join(copy, 'blobs', ...digest.split(':')), 'utf8'));
    const materials = index.manifests.slice(2).map((m) => blob(manifest(m.digest).layers[0].digest).predicate.materials[0]);
    assert.deepEqual(materials.map((m) => m.uri), ['amd64', 'arm64'].map((a) => `pkg:docker/${encodeURIComponent(registry.addr)}/node@22?platform=linux%2F${a}`));
    assert.ok(materials.every((m) => m.digest.sha256 === baseDigest.slice('sha256:'.length)));
  } finally {
    registry.close();
  }
});
