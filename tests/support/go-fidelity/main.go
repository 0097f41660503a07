// go-fidelity: what Go (and BuildKit's image writer) make of outport's inputs, for
// tests/go_fidelity.rs. Built offline in GOPATH mode over Debian's Go sources
// (golang-go, golang-github-opencontainers-image-spec-dev).
//
//	go-fidelity gzip0            stdin: data       stdout: compress/gzip at level 0 (NoCompression)
//	go-fidelity docker-config    stdin: an object  stdout: it decoded into docker's DockerOCIImageConfig and marshalled
//	go-fidelity patch            stdin: a request  stdout: BuildKit's normalizeLayersAndHistory + patchImageConfig
package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// moby/docker-image-spec specs-go/v1 (not packaged in Debian): the same fields and tags.
type HealthcheckConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

type DockerOCIImageConfigExt struct {
	Healthcheck *HealthcheckConfig `json:",omitempty"`
	OnBuild     []string           `json:",omitempty"`
	Shell       []string           `json:",omitempty"`
}

type DockerOCIImageConfig struct {
	ocispecs.ImageConfig
	DockerOCIImageConfigExt
}

type patchRequest struct {
	Config      string             `json:"config"`
	Layers      int                `json:"layers"`
	Now         time.Time          `json:"now"`
	Epoch       *int64             `json:"epoch"`
	BaseHistory []ocispecs.History `json:"base_history"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	switch os.Args[1] {
	case "gzip0":
		w, _ := gzip.NewWriterLevel(os.Stdout, gzip.NoCompression)
		if _, err := w.Write(input); err != nil {
			fail(err)
		}
		if err := w.Close(); err != nil {
			fail(err)
		}
	case "docker-config":
		var c DockerOCIImageConfig
		if err := json.Unmarshal(input, &c); err != nil {
			fail(err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(out)
	case "patch":
		var req patchRequest
		if err := json.Unmarshal(input, &req); err != nil {
			fail(err)
		}
		out, err := patch(req)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(out)
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

// BuildKit's exporter/containerimage/writer.go, for layers all created at req.Now.
func patch(req patchRequest) ([]byte, error) {
	dt := []byte(req.Config)
	var img ocispecs.Image
	if err := json.Unmarshal(dt, &img); err != nil {
		return nil, err
	}
	var config struct{ History []ocispecs.History }
	if err := json.Unmarshal(dt, &config); err != nil {
		return nil, err
	}
	history := normalizeLayersAndHistory(config.History, req.Layers, req.Now)

	var epoch *time.Time
	if req.Epoch != nil {
		tm := time.Unix(*req.Epoch, 0).UTC()
		epoch = &tm
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(dt, &m); err != nil {
		return nil, err
	}
	if epoch != nil {
		// Leading entries equal to the base image's keep their times (BuildKit #4614).
		kept := 0
		for kept < len(history) && kept < len(req.BaseHistory) && reflect.DeepEqual(history[kept], req.BaseHistory[kept]) {
			kept++
		}
		for i := kept; i < len(history); i++ {
			if history[i].Created == nil || history[i].Created.After(*epoch) {
				history[i].Created = epoch
			}
		}
		if v, ok := m["created"]; ok {
			var tm time.Time
			if err := json.Unmarshal(v, &tm); err != nil {
				return nil, err
			}
			if tm.After(*epoch) {
				dt, _ := json.Marshal(epoch)
				m["created"] = dt
			}
		}
	}
	var rootFS ocispecs.RootFS
	rootFS.Type = "layers"
	for i := 0; i < req.Layers; i++ {
		rootFS.DiffIDs = append(rootFS.DiffIDs, digest.Digest(fmt.Sprintf("sha256:%064x", i)))
	}
	rootfs, _ := json.Marshal(rootFS)
	m["rootfs"] = rootfs
	h, err := json.Marshal(history)
	if err != nil {
		return nil, err
	}
	m["history"] = h
	if _, ok := m["created"]; !ok {
		var tm *time.Time
		for _, h := range history {
			if h.Created != nil {
				tm = h.Created
			}
		}
		dt, _ := json.Marshal(&tm)
		m["created"] = dt
	}
	return json.Marshal(m)
}

func normalizeLayersAndHistory(history []ocispecs.History, layers int, now time.Time) []ocispecs.History {
	var historyLayers int
	for _, h := range history {
		if !h.EmptyLayer {
			historyLayers++
		}
	}
	if historyLayers > layers {
		historyCopy := make([]ocispecs.History, 0, len(history))
		var l int
		for _, h := range history {
			if l >= layers {
				h.EmptyLayer = true
			}
			if !h.EmptyLayer {
				l++
			}
			historyCopy = append(historyCopy, h)
		}
		history = historyCopy
	}
	if layers > historyLayers {
		for i := historyLayers; i < layers; i++ {
			tm := now
			history = append(history, ocispecs.History{Created: &tm, CreatedBy: "outport export", Comment: "buildkit.exporter.image.v0"})
		}
	}
	for i, h := range history {
		if !h.EmptyLayer && h.Created == nil {
			tm := now
			h.Created = &tm
		}
		history[i] = h
	}
	var created *time.Time
	var noCreatedTime bool
	for _, h := range history {
		if h.Created != nil {
			created = h.Created
			if noCreatedTime {
				break
			}
		} else {
			noCreatedTime = true
		}
	}
	noCreatedTime = false
	for i, h := range history {
		if h.Created != nil {
			if noCreatedTime {
				created = h.Created
			}
		} else {
			noCreatedTime = true
			h.Created = created
		}
		history[i] = h
	}
	return history
}
