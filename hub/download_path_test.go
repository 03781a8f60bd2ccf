package hub

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

func (e *hubEnv) post(t *testing.T, path, ctype, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	res.Body.Close()
	return res, buf.Bytes()
}

// POST /api/models/{id}/paths-info/{rev} as @huggingface/hub's pathsInfo
// sends it (JSON) and as huggingface_hub's get_paths_info does (a form),
// under /hf and at the root.
func TestPathsInfo(t *testing.T) {
	e := newHubEnv(t)
	v := e.Publish(t, "unet2d-nuclei-broad-onnx")
	var weights, desc = "", v.DescriptionFile
	for _, f := range v.Files {
		if strings.HasSuffix(f.Path, ".onnx") {
			weights = f.Path
		}
	}
	for _, prefix := range []string{Prefix, ""} {
		for _, body := range []struct{ ctype, text string }{
			{"application/json", `{"paths": ["` + weights + `", "` + desc + `", "nope.txt", "` + desc + `"], "expand": true}`},
			{"application/x-www-form-urlencoded", "paths=" + weights + "&paths=" + desc + "&paths=nope.txt&expand=True"},
		} {
			res, b := e.post(t, prefix+"/api/models/"+v.ModelID+"/paths-info/"+Commit(v), body.ctype, body.text)
			var got []PathInfo
			if res.StatusCode != 200 || json.Unmarshal(b, &got) != nil || len(got) != 2 {
				t.Fatalf("%s %s: %d %s", prefix, body.ctype, res.StatusCode, b)
			}
			w, d := got[0], got[1]
			if w.Path != weights || w.Type != "file" || w.LFS == nil || len(w.LFS.OID) != 64 || w.LastCommit == nil || w.LastCommit.ID != Commit(v) {
				t.Errorf("weights entry %+v", w)
			}
			if d.Path != desc || d.LFS != nil || len(d.OID) != 40 || d.Size == 0 {
				t.Errorf("description entry %+v", d)
			}
		}
	}
	// main works; not expanding leaves lastCommit out.
	res, b := e.post(t, Prefix+"/api/models/"+v.ModelID+"/paths-info/main", "application/json", `{"paths": ["`+desc+`"]}`)
	if res.StatusCode != 200 || strings.Contains(string(b), "lastCommit") {
		t.Errorf("main: %d %s", res.StatusCode, b)
	}
	// Unknown model and revision carry the Hub's error codes.
	if res, _ := e.post(t, Prefix+"/api/models/no-such-model/paths-info/main", "application/json", `{"paths": []}`); res.StatusCode != 404 || res.Header.Get("X-Error-Code") != "RepoNotFound" {
		t.Errorf("unknown model: %d %v", res.StatusCode, res.Header)
	}
	// Hostile bodies.
	for _, bad := range []string{"", "{", `{"paths": "x"}`, `{"paths": ["` + strings.Repeat("a", maxPathLen+1) + `"]}`,
		`{"paths": [` + strings.Repeat(`"a",`, maxPaths) + `"a"]}`} {
		if res, _ := e.post(t, Prefix+"/api/models/"+v.ModelID+"/paths-info/main", "application/json", bad); res.StatusCode != 400 {
			t.Errorf("%.40q: %d", bad, res.StatusCode)
		}
	}
	if res, _ := e.post(t, Prefix+"/api/models/"+v.ModelID+"/paths-info/main", "application/json", `{"paths": ["`+strings.Repeat("a", maxPathsBody)+`"]}`); res.StatusCode != 413 {
		t.Errorf("oversized body: %d", res.StatusCode)
	}
}

// listModels with additionalFields ["filePaths"] sends expand=siblings.
func TestListExpandSiblings(t *testing.T) {
	e := newHubEnv(t)
	v := e.Publish(t, "upsample-onnx")
	res, b := e.do(t, "GET", "/api/models?expand=downloads&expand=siblings", nil)
	var got []ModelInfo
	if res.StatusCode != 200 || json.Unmarshal(b, &got) != nil || len(got) != 1 || len(got[0].Siblings) != len(v.Files) {
		t.Errorf("%d %s", res.StatusCode, b)
	}
	if res, _ := e.do(t, "GET", "/api/models?"+strings.Repeat("expand=x&", maxExpand+1), nil); res.StatusCode != 400 {
		t.Errorf("too many expand values: %d", res.StatusCode)
	}
}

// The Hub clients probe every file with Range: bytes=0-0 and read its
// size from Content-Range: the raw route (an LFS pointer) and an empty
// file must answer with one.
func TestRangeProbes(t *testing.T) {
	e := newHubEnv(t)
	dir := t.TempDir()
	src := fixtures.Path(t, "packages", "upsample-onnx")
	ents, _ := os.ReadDir(src)
	for _, en := range ents {
		b, _ := os.ReadFile(filepath.Join(src, en.Name()))
		if en.Name() == "bioimageio.yaml" {
			b = bytes.Replace(b, []byte("\ndocumentation:"), []byte("\nattachments:\n  - source: empty.txt\ndocumentation:"), 1)
		}
		os.WriteFile(filepath.Join(dir, en.Name()), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o644)
	v := e.PublishPath(t, dir)
	if _, ok := fileAt(v, "empty.txt"); !ok {
		t.Fatalf("the package kept no empty file (files %v): the empty-file probe below would go untested", v.Files)
	}
	probe := map[string]string{"Range": "bytes=0-0"}
	res, b := e.do(t, "GET", Prefix+"/"+v.ModelID+"/resolve/main/empty.txt", probe)
	if !(res.StatusCode == 200 || res.StatusCode == 206) || res.Header.Get("Content-Range") != "bytes */0" || len(b) != 0 {
		t.Errorf("empty file: %d %q %q", res.StatusCode, res.Header.Get("Content-Range"), b)
	}
	var weights string
	for _, f := range v.Files {
		if strings.HasSuffix(f.Path, ".onnx") {
			weights = f.Path
		}
	}
	res, b = e.do(t, "GET", Prefix+"/"+v.ModelID+"/raw/main/"+weights, probe)
	wf, _ := fileAt(v, weights)
	full := lfsPointer(wf)
	if res.StatusCode != 206 || res.Header.Get("Content-Range") != "bytes 0-0/"+itoa(int64(len(full))) || string(b) != full[:1] {
		t.Errorf("raw pointer probe: %d %q %q", res.StatusCode, res.Header.Get("Content-Range"), b)
	}
}
