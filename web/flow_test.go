package web

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestFlow: upload → test job → review accept → anonymous reads by id and
// id/n → every file byte-identical with ETag = sha256 → Range → package zip.
func TestFlow(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	dir := fixtures.Path(t, "packages", "upsample-onnx")
	data := packageZip(t, "upsample-onnx")

	r := e.upload("alice", "", data)
	v := e.version(r, http.StatusCreated)
	if v.ModelID == "" || v.Number != 1 || v.State != zoo.StateSubmitted || v.TestStatus != zoo.TestPending {
		t.Fatalf("uploaded %+v", v)
	}
	if loc := r.Header.Get("Location"); loc != "/api/v1/models/"+v.ModelID+"/versions/1" {
		t.Errorf("Location %q", loc)
	}
	// The raw JSON has the field names the CLI reads.
	var raw map[string]any
	json.Unmarshal(r.body, &raw)
	for _, k := range []string{"id", "version", "state", "test_status"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("upload answer lacks %q: %s", k, r.body)
		}
	}
	// The kept validation report has the shape of `zoo validate --json`.
	var rep struct {
		Report map[string]json.RawMessage `json:"validation_report"`
	}
	json.Unmarshal(r.body, &rep)
	for _, k := range []string{"source", "status", "type", "format_version", "errors", "warnings"} {
		if _, ok := rep.Report[k]; !ok {
			t.Errorf("validation_report lacks %q: %s", k, r.body)
		}
	}
	if string(rep.Report["status"]) != `"valid-format"` || string(rep.Report["errors"]) != "[]" {
		t.Errorf("validation_report %s", r.body)
	}
	// Before publication: invisible to anonymous callers, in the queue.
	e.problem(e.get("", "/api/v1/models/"+v.ModelID+"/versions/1"), http.StatusNotFound)
	e.problem(e.get("", "/api/v1/models/"+v.ModelID), http.StatusNotFound)
	var queue struct{ Versions []zoo.Version }
	json.Unmarshal(e.get("rita", "/api/v1/review-queue").body, &queue)
	if len(queue.Versions) != 1 || queue.Versions[0].ModelID != v.ModelID {
		t.Errorf("review queue %+v", queue)
	}
	// Accepting before the test has run is a conflict.
	p := e.problem(e.postJSON("rita", versionPath(v)+"/review", ReviewRequest{Action: "accept"}), http.StatusConflict)
	if !contains(p.Detail, "test") {
		t.Errorf("detail %q", p.Detail)
	}
	e.runTests()
	pub := e.version(e.postJSON("rita", versionPath(v)+"/review", ReviewRequest{Action: "accept", Comment: "fine"}), http.StatusOK)
	if pub.State != zoo.StatePublished || pub.TestStatus != zoo.TestPassed {
		t.Fatalf("after accept %+v", pub)
	}

	// Anyone reads it by ID and by ID/N.
	byID := e.version(e.get("", "/api/v1/models/"+v.ModelID), http.StatusOK)
	byN := e.version(e.get("", "/api/v1/models/"+v.ModelID+"/versions/1"), http.StatusOK)
	if byID.Number != 1 || byN.Number != 1 || byID.PackageSHA256 != byN.PackageSHA256 || byID.State != zoo.StatePublished {
		t.Errorf("by id %+v, by id/n %+v", byID, byN)
	}
	var list struct {
		Models []map[string]any `json:"models"`
	}
	json.Unmarshal(e.get("", "/api/v1/models").body, &list)
	if len(list.Models) != 1 || list.Models[0]["id"] != v.ModelID || list.Models[0]["version"] != 1.0 ||
		list.Models[0]["state"] != "published" || list.Models[0]["test_status"] != "passed" || list.Models[0]["name"] == "" {
		t.Errorf("model list %+v", list)
	}
	for _, k := range []string{"id", "version", "name", "description", "state", "test_status", "downloads"} {
		if _, ok := list.Models[0][k]; !ok {
			t.Errorf("model list entry lacks %q", k)
		}
	}
	var versions struct{ Versions []zoo.Version }
	json.Unmarshal(e.get("", "/api/v1/models/"+v.ModelID+"/versions").body, &versions)
	if len(versions.Versions) != 1 {
		t.Errorf("versions %+v", versions)
	}

	// Every file, byte-identical to what was uploaded, ETag = sha256.
	for _, f := range byN.Files {
		for _, n := range []string{"1", "latest"} {
			r := e.get("", "/files/"+v.ModelID+"/"+n+"/"+f.Path+"?silent=1")
			if r.StatusCode != http.StatusOK {
				t.Fatalf("file %s: %d %s", f.Path, r.StatusCode, r.body)
			}
			if got := sha(r.body); got != f.SHA256 || int64(len(r.body)) != f.Size {
				t.Errorf("%s: sha256 %s size %d, version says %s %d", f.Path, got, len(r.body), f.SHA256, f.Size)
			}
			if et := r.Header.Get("ETag"); et != `"`+f.SHA256+`"` {
				t.Errorf("%s: ETag %s", f.Path, et)
			}
			if cl := r.Header.Get("Content-Length"); cl != strconv.FormatInt(f.Size, 10) {
				t.Errorf("%s: Content-Length %s", f.Path, cl)
			}
			if r.Header.Get("Content-Disposition") == "" || r.Header.Get("Content-Type") == "" {
				t.Errorf("%s: headers %v", f.Path, r.Header)
			}
		}
		if f.Path == "rdf.yaml" {
			continue // carries the id now
		}
		orig, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if sha(orig) != f.SHA256 {
			t.Errorf("%s differs from the fixture", f.Path)
		}
	}
	desc := e.get("", "/files/"+v.ModelID+"/1/rdf.yaml")
	if !contains(string(desc.body), "\nid: "+v.ModelID+"\n") || desc.Header.Get("Content-Type") != "application/yaml" {
		t.Errorf("rdf.yaml (%s) lacks the id:\n%s", desc.Header.Get("Content-Type"), desc.body)
	}
	w := e.get("", "/files/"+v.ModelID+"/1/weights.onnx")
	if cd := w.Header.Get("Content-Disposition"); cd != `attachment; filename=weights.onnx` {
		t.Errorf("weights Content-Disposition %q", cd)
	}
	if cc := w.Header.Get("Cache-Control"); !contains(cc, "immutable") {
		t.Errorf("published file Cache-Control %q", cc)
	}

	// A Range request: 206 with exactly those bytes.
	rr := e.do(req{method: "GET", path: "/files/" + v.ModelID + "/1/weights.onnx", header: map[string]string{"Range": "bytes=10-99"}})
	if rr.StatusCode != http.StatusPartialContent || !bytes.Equal(rr.body, w.body[10:100]) ||
		rr.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-99/%d", len(w.body)) {
		t.Errorf("range: %d %q, %d bytes", rr.StatusCode, rr.Header.Get("Content-Range"), len(rr.body))
	}
	// Conditional GET: 304.
	nm := e.do(req{method: "GET", path: "/files/" + v.ModelID + "/1/weights.onnx", header: map[string]string{"If-None-Match": w.Header.Get("ETag")}})
	if nm.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", nm.StatusCode)
	}
	// A range past the end: 416 as a problem document.
	bad := e.do(req{method: "GET", path: "/files/" + v.ModelID + "/1/weights.onnx", header: map[string]string{"Range": "bytes=99999999-"}})
	e.problem(bad, http.StatusRequestedRangeNotSatisfiable)
	// HEAD: the headers, no body.
	hd := e.do(req{method: "HEAD", path: "/files/" + v.ModelID + "/1/weights.onnx"})
	if hd.StatusCode != http.StatusOK || len(hd.body) != 0 || hd.Header.Get("Content-Length") != strconv.Itoa(len(w.body)) {
		t.Errorf("HEAD: %d, %d bytes, %v", hd.StatusCode, len(hd.body), hd.Header)
	}
	e.problem(e.get("", "/files/"+v.ModelID+"/1/nothing.txt"), http.StatusNotFound)
	e.problem(e.get("", "/files/"+v.ModelID+"/2/rdf.yaml"), http.StatusNotFound)

	// The package zip by ID and by ID/N: the repository's zip, unpacking to
	// the same files.
	for _, path := range []string{"/packages/" + v.ModelID, "/packages/" + v.ModelID + "/1", "/packages/" + v.ModelID + "/latest"} {
		pr := e.get("", path)
		if pr.StatusCode != http.StatusOK || pr.Header.Get("Content-Type") != "application/zip" ||
			pr.Header.Get("ETag") != `"`+byN.PackageSHA256+`"` || sha(pr.body) != byN.PackageSHA256 ||
			!strings.HasPrefix(pr.Header.Get("Content-Disposition"), "attachment; filename="+v.ModelID+"-1.zip") {
			t.Fatalf("%s: %d %v", path, pr.StatusCode, pr.Header)
		}
		zr, err := zip.NewReader(bytes.NewReader(pr.body), int64(len(pr.body)))
		if err != nil {
			t.Fatal(err)
		}
		if len(zr.File) != len(byN.Files) {
			t.Errorf("zip has %d files, version %d", len(zr.File), len(byN.Files))
		}
		for _, zf := range zr.File {
			f, err := repo.FileOf(byN, zf.Name)
			if err != nil {
				t.Fatal(err)
			}
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if sha(b) != f.SHA256 {
				t.Errorf("zip entry %s differs", zf.Name)
			}
		}
	}
}

// TestInvalidPackage: 422 with the validation report, line numbers included;
// nothing is stored.
func TestInvalidPackage(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	data := editZip(t, packageZip(t, "upsample-onnx"), func(d []byte) []byte { return append(d, "\nspeed: fast\n"...) })
	r := e.upload("alice", "", data)
	p := e.problem(r, http.StatusUnprocessableEntity)
	if p.Type != "urn:zoo:problem:invalid-package" || p.Report == nil {
		t.Fatalf("problem %s", r.body)
	}
	var raw struct {
		Report map[string]json.RawMessage `json:"report"`
	}
	json.Unmarshal(r.body, &raw)
	for _, k := range []string{"source", "status", "type", "format_version", "errors", "warnings"} {
		if _, ok := raw.Report[k]; !ok {
			t.Errorf("report lacks %q: %s", k, r.body)
		}
	}
	rep := p.Report
	if rep.Status != "failed" || len(rep.Errors) == 0 || rep.Errors[0].Loc != "speed" || rep.Errors[0].Line == 0 || rep.Errors[0].Column == 0 {
		t.Errorf("report %+v", rep)
	}
	lines := strings.Count(string(packageDesc(t, data)), "\n")
	if rep.Errors[0].Line < lines-2 {
		t.Errorf("error at line %d, the field is near line %d", rep.Errors[0].Line, lines)
	}
	if vs, _ := e.cat.ListVersions(t.Context(), zoo.VersionFilter{}); len(vs) != 0 {
		t.Errorf("an invalid upload left versions")
	}
	// Not a zip at all: 400 with a message, not a report.
	p = e.problem(e.upload("alice", "", []byte("hello")), http.StatusBadRequest)
	if p.Report != nil {
		t.Errorf("report for a non-zip: %+v", p)
	}
	// A form upload is refused with a hint.
	r = e.do(req{as: "alice", method: "POST", path: "/api/v1/models", body: strings.NewReader("x"),
		header: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}})
	if p := e.problem(r, http.StatusBadRequest); !contains(p.Detail, "application/zip") {
		t.Errorf("form upload: %q", p.Detail)
	}
}

func packageDesc(t *testing.T, data []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open("rdf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUploadStreams: a 256 MiB upload body is not held in memory (the
// server's and the client's allocations together stay far below its size).
func TestUploadStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	e := newEnv(t, Options{}, repo.Config{})
	const size = 256 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := e.do(req{as: "alice", method: "POST", path: "/api/v1/models", body: io.LimitReader(zeros{}, size)})
	runtime.ReadMemStats(&after)
	p := e.problem(r, http.StatusBadRequest) // zeros are not a zip
	if !contains(p.Detail, "zip") {
		t.Errorf("detail %q", p.Detail)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
		t.Errorf("uploading %d MiB allocated %d MiB", size>>20, alloc>>20)
	} else {
		t.Logf("uploading %d MiB allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	}
}
