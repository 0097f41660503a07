// Prints Go's archive/tar verdict on every .tar in a folder: read every entry and all of its data,
// as containerd and Docker do when they unpack a layer. The Rust test src/tar/verdicts.rs pins what
// this prints; it does not need Go to run.
package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func verdict(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	r := tar.NewReader(f)
	for {
		_, err := r.Next()
		if err == io.EOF {
			return "ok"
		}
		if err != nil {
			return err.Error()
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err.Error()
		}
	}
}

func main() {
	paths, _ := filepath.Glob(filepath.Join(os.Args[1], "*.tar"))
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Printf("(%q, %q),\n", strings.TrimSuffix(filepath.Base(p), ".tar"), verdict(p))
	}
}
