// estargz-verify checks an eStargz layer blob with the reference implementation
// (github.com/containerd/stargz-snapshotter/estargz, as Debian packages it):
//
//	estargz-verify BLOB TOC_DIGEST [CHUNK_SIZE]
//
// It opens the blob with estargz.Open, verifies the TOC against TOC_DIGEST (VerifyTOC) and every
// chunk of every regular file against its chunkDigest (reading it through the reader, which
// decompresses from the chunk's offset) and checks whole-file digests. Then it unpacks the payload
// (the original tar) and re-encodes it with estargz's own writer (NewWriterLevel +
// AppendTarLossLess + Close, as BuildKit does): its TOC JSON must equal ours byte for byte once
// compressed offsets are replaced by member ranks. CHUNK_SIZE: the chunk size the blob was made
// with, if not estargz's default (4 MiB).
//
// Output: "toc <digest>", "payload <sha256 of the unpacked tar>", one "entry <type> <name>" per TOC
// entry that is not a chunk, then "ok". Any failure: a message on stderr, exit status 1.
//
// Build offline in GOPATH mode: GO111MODULE=off GOPATH=/usr/share/gocode go build -o BIN main.go
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "estargz-verify: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fail("usage: estargz-verify BLOB TOC_DIGEST [CHUNK_SIZE]")
	}
	chunkSize := 0
	if len(os.Args) == 4 {
		if _, err := fmt.Sscan(os.Args[3], &chunkSize); err != nil {
			fail("bad chunk size: %v", err)
		}
	}
	blob, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	want, err := digest.Parse(os.Args[2])
	if err != nil {
		fail("bad TOC digest: %v", err)
	}
	sr := io.NewSectionReader(bytes.NewReader(blob), 0, int64(len(blob)))

	r, err := estargz.Open(sr)
	if err != nil {
		fail("estargz.Open: %v", err)
	}
	verifier, err := r.VerifyTOC(want)
	if err != nil {
		fail("VerifyTOC: %v", err)
	}
	fmt.Printf("toc %s\n", r.TOCDigest())

	tocJSON := readTOC(sr)
	if got := digest.FromBytes(tocJSON); got != want {
		fail("TOC JSON digest %s, want %s", got, want)
	}
	var toc estargz.JTOC
	if err := json.Unmarshal(tocJSON, &toc); err != nil {
		fail("TOC JSON: %v", err)
	}

	for _, e := range toc.Entries {
		if e.Type == "chunk" {
			continue
		}
		if _, ok := r.Lookup(e.Name); !ok {
			fail("Lookup(%q) failed", e.Name)
		}
		if e.Type == "reg" {
			verifyFile(r, verifier, e)
		}
		fmt.Printf("entry %s %s\n", e.Type, e.Name)
	}

	unpacked, err := estargz.Unpack(sr, new(estargz.GzipDecompressor))
	if err != nil {
		fail("Unpack: %v", err)
	}
	payload, err := io.ReadAll(unpacked)
	if err != nil {
		fail("Unpack: %v", err)
	}
	fmt.Printf("payload sha256:%x\n", sha256.Sum256(payload))

	compareWithReferenceWriter(payload, tocJSON, chunkSize)
	fmt.Println("ok")
}

// readTOC returns the raw stargz.index.json bytes: the footer's TOC offset, the gzip member there,
// the tar entry inside it.
func readTOC(sr *io.SectionReader) []byte {
	tocOffset, footerSize, err := estargz.OpenFooter(sr)
	if err != nil {
		fail("OpenFooter: %v", err)
	}
	if footerSize != estargz.FooterSize {
		fail("footer of %d bytes, want %d", footerSize, estargz.FooterSize)
	}
	zr, err := gzip.NewReader(io.NewSectionReader(sr, tocOffset, sr.Size()-tocOffset-footerSize))
	if err != nil {
		fail("TOC member: %v", err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil {
		fail("TOC tar: %v", err)
	}
	if h.Name != estargz.TOCTarName {
		fail("TOC tar entry %q", h.Name)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		fail("TOC tar: %v", err)
	}
	if _, err := tr.Next(); err != io.EOF {
		fail("TOC tar has more than one entry (%v)", err)
	}
	return data
}

// verifyFile reads every chunk of a regular file through the reader and checks it against the
// chunk's verifier, then the whole file against its digest.
func verifyFile(r *estargz.Reader, verifier estargz.TOCEntryVerifier, e *estargz.TOCEntry) {
	f, err := r.OpenFile(e.Name)
	if err != nil {
		fail("OpenFile(%q): %v", e.Name, err)
	}
	whole := digest.Canonical.Digester()
	for off := int64(0); off < e.Size; {
		ce, ok := r.ChunkEntryForOffset(e.Name, off)
		if !ok {
			fail("%s: no chunk at %d", e.Name, off)
		}
		v, err := verifier.Verifier(ce)
		if err != nil {
			fail("%s: %v", e.Name, err)
		}
		size := ce.ChunkSize
		if size == 0 || ce.ChunkOffset+size > e.Size {
			size = e.Size - ce.ChunkOffset
		}
		buf := make([]byte, size)
		if _, err := f.ReadAt(buf, ce.ChunkOffset); err != nil && err != io.EOF {
			fail("%s: reading chunk at %d: %v", e.Name, ce.ChunkOffset, err)
		}
		v.Write(buf)
		if !v.Verified() {
			fail("%s: chunk at %d (blob offset %d) does not match its chunkDigest", e.Name, ce.ChunkOffset, ce.Offset)
		}
		whole.Hash().Write(buf)
		off = ce.ChunkOffset + size
	}
	if e.Digest != whole.Digest().String() {
		fail("%s: file digest %s, TOC says %s", e.Name, whole.Digest(), e.Digest)
	}
}

// compareWithReferenceWriter re-encodes the payload with estargz's writer as BuildKit calls it and
// compares the TOC JSON bytes, compressed offsets replaced by the rank of the gzip member they
// point at (the two deflate implementations differ, the member structure must not).
func compareWithReferenceWriter(payload []byte, ours []byte, chunkSize int) {
	var out bytes.Buffer
	w := estargz.NewWriterLevel(&out, gzip.DefaultCompression)
	w.ChunkSize = chunkSize
	if err := w.AppendTarLossLess(bytes.NewReader(payload)); err != nil {
		fail("reference writer: %v", err)
	}
	if _, err := w.Close(); err != nil {
		fail("reference writer: %v", err)
	}
	theirs := readTOC(io.NewSectionReader(bytes.NewReader(out.Bytes()), 0, int64(out.Len())))
	a, b := ranked(ours), ranked(theirs)
	if !bytes.Equal(a, b) {
		fail("TOC JSON differs from the reference writer's (offsets as member ranks):\n--- ours\n%s\n--- reference\n%s", a, b)
	}
}

var offsetField = regexp.MustCompile(`"offset": [0-9]+`)

func ranked(tocJSON []byte) []byte {
	var offsets []int64
	seen := map[int64]bool{}
	for _, m := range offsetField.FindAll(tocJSON, -1) {
		var o int64
		fmt.Sscanf(string(m), `"offset": %d`, &o)
		if !seen[o] {
			seen[o] = true
			offsets = append(offsets, o)
		}
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
	rank := map[int64]int{}
	for i, o := range offsets {
		rank[o] = i + 1
	}
	return offsetField.ReplaceAllFunc(tocJSON, func(m []byte) []byte {
		var o int64
		fmt.Sscanf(string(m), `"offset": %d`, &o)
		return []byte(fmt.Sprintf(`"offset": member-%d`, rank[o]))
	})
}
