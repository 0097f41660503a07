// go-peers: BuildKit's own layer compressors, for bench/compress.sh to time beside outport (a
// benchmark helper, not a test). Reads a layer tar on stdin, writes the compressed blob to stdout.
//
//	go-peers gzip           Go's compress/gzip at level 6 (BuildKit's gzip: gzip.DefaultCompression, one thread)
//	go-peers zstd           klauspost zstd.NewWriter(w) with its defaults (BuildKit's zstd at level 3:
//	                        SpeedDefault, GOMAXPROCS concurrency)
//	go-peers estargz        stargz-snapshotter's estargz.NewWriterLevel(w, 6) + AppendTarLossLess + Close
//	                        (BuildKit's eStargz writer: one gzip stream at a time)
//	go-peers estargz-build  estargz.Build over the tar at level 6 (the reference writer's own entry point:
//	                        the tar split into GOMAXPROCS parts compressed in parallel through temporary
//	                        files); stdin must be a regular file (`< tree.tar`)
//
// Build offline in GOPATH mode over Debian's Go packages (golang-go, golang-github-klauspost-compress-dev,
// golang-github-containerd-stargz-snapshotter-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o BIN main.go
package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/containerd/stargz-snapshotter/estargz"
	"github.com/klauspost/compress/zstd"
)

const level = 6

func fail(err error) {
	fmt.Fprintf(os.Stderr, "go-peers: %v\n", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("usage: go-peers gzip|zstd|estargz|estargz-build < TAR > BLOB"))
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	var err error
	switch os.Args[1] {
	case "gzip":
		err = compress(out, in, func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, level) })
	case "zstd":
		err = compress(out, in, func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) })
	case "estargz":
		w := estargz.NewWriterLevel(out, level)
		if err = w.AppendTarLossLess(in); err == nil {
			_, err = w.Close()
		}
	case "estargz-build":
		err = build(out)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		fail(err)
	}
}

func compress(out io.Writer, in io.Reader, open func(io.Writer) (io.WriteCloser, error)) error {
	w, err := open(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	return w.Close()
}

func build(out io.Writer) error {
	info, err := os.Stdin.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("estargz-build reads a regular file on stdin")
	}
	blob, err := estargz.Build(io.NewSectionReader(os.Stdin, 0, info.Size()), estargz.WithCompressionLevel(level))
	if err != nil {
		return err
	}
	defer blob.Close()
	_, err = io.Copy(out, blob)
	return err
}
