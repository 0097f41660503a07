# A hand-made two-layer base image as an OCI layout directory (tag "1"), for the issue-19 tests
# (host/tests/base_outputs.rs, tests/cross_host.test.mjs): a lower plain layer and a gzipped upper one
# with a whiteout, an opaque directory, a file replaced by a directory and the reverse, a hardlink to
# a lower-layer file, a symlink climbing out of the root with a file beneath it (named by argument 2),
# an absolute symlink with a file beneath it, a device and a fifo. Argument 3, if given, adds an entry
# of that name to the upper layer.
# usage: python3 make_base.py LAYOUT_DIR ESCAPE_NAME [BAD_NAME]
import gzip, hashlib, io, json, os, sys, tarfile
out, escape = sys.argv[1], sys.argv[2]
bad = sys.argv[3] if len(sys.argv) > 3 else None
def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, extra in entries:
            i = tarfile.TarInfo(name)
            i.mtime, i.uid, i.gid, i.mode = 1600000000, 0, 0, 0o644
            data = None
            if kind == "dir":
                i.type, i.mode = tarfile.DIRTYPE, 0o755
            elif kind == "file":
                data = extra.encode(); i.size = len(data)
            elif kind == "exe":
                data = extra.encode(); i.size = len(data); i.mode = 0o755
            elif kind == "link":
                i.type, i.linkname, i.mode = tarfile.LNKTYPE, extra, 0o755
            elif kind == "sym":
                i.type, i.linkname, i.mode = tarfile.SYMTYPE, extra, 0o777
            elif kind == "chr":
                i.type, i.devmajor, i.devminor, i.mode = tarfile.CHRTYPE, 1, 3, 0o666
            elif kind == "fifo":
                i.type, i.mode = tarfile.FIFOTYPE, 0o600
            t.addfile(i, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()
lower = layer([
    ("etc", "dir", None), ("etc/passwd", "file", "root:x:0:0\n"), ("etc/gone", "file", "whited out\n"),
    ("opaque", "dir", None), ("opaque/old", "file", "hidden\n"), ("opaque/sub", "dir", None),
    ("opaque/sub/deep", "file", "hidden too\n"),
    ("f2d", "file", "a file, then a directory\n"),
    ("d2f", "dir", None), ("d2f/child", "file", "goes with its directory\n"),
    ("bin", "dir", None), ("bin/busybox", "exe", "busybox\n"),
    ("evil", "sym", "../../../../../../../tmp"), ("abs", "sym", "/etc"),
    ("dev", "dir", None), ("dev/null", "chr", None), ("fifo", "fifo", None),
])
upper = layer([
    ("etc/.wh.gone", "file", ""),
    ("opaque", "dir", None), ("opaque/.wh..wh..opq", "file", ""), ("opaque/new", "file", "new\n"),
    ("f2d", "dir", None), ("f2d/inside", "file", "inside\n"),
    ("d2f", "file", "now a file\n"),
    ("bin/sh", "link", "bin/busybox"),
    ("evil/" + escape, "file", "stays inside\n"),
    ("abs/hosts", "file", "127.0.0.1 localhost\n"),
] + ([(bad, "file", "bad\n")] if bad else []))
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(data)
    return "sha256:" + d, len(data)
upper_gz = gzip.compress(upper, mtime=0)
l1, l2 = blob(lower), blob(upper_gz)
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/bin:/bin", "BASE=1"], "Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(lower).hexdigest(), "sha256:" + hashlib.sha256(upper).hexdigest()]},
    "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "lower"}, {"created": "2020-01-02T00:00:00Z", "created_by": "upper"}],
}).encode()
c = blob(config)
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c[0], "size": c[1]},
    "layers": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l1[0], "size": l1[1]},
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l2[0], "size": l2[1]},
    ],
}).encode()
m = blob(manifest)
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m[0], "size": m[1],
     "annotations": {"org.opencontainers.image.ref.name": "1"}}]}))
