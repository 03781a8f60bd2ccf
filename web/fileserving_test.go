package web

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// addFiles returns a copy of a package zip with extra files, listed as
// attachments in its description.
func addFiles(t *testing.T, data []byte, files map[string]string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "rdf.yaml" {
			b = append(b, "\nattachments:\n"...)
			for name := range files {
				b = append(b, "  - source: "+name+"\n"...)
			}
		}
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	for name, content := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(content))
	}
	zw.Close()
	return buf.Bytes()
}

// TestUserFilesAreNeverScriptsOnOurOrigin serves, through every route that
// serves a package's files, files of every type that a browser would run
// script in (SVG, HTML, XHTML, XML, JavaScript, PDF; in any letter case)
// or guess the type of (no extension). None may be served inline: each is
// an attachment (so a browser saves it instead of rendering it on zoo's
// origin), with nosniff and a sandboxing Content-Security-Policy. Only the
// passive types (text, YAML, JSON, raster images) are inline.
func TestUserFilesAreNeverScriptsOnOurOrigin(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	script := `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`
	active := map[string]string{
		"evil.svg": script, "EVIL2.SVG": script, "page.html": "<script>alert(1)</script>", "page2.HTM": "<script>alert(1)</script>",
		"page3.xhtml": `<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>`,
		"data.xml":    `<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>`,
		"code.js":     "alert(1)", "code.mjs": "alert(1)", "doc.pdf": "%PDF-1.4", "noext": "<script>alert(1)</script>",
		"page.shtml": "<script>alert(1)</script>", "style.css": "body{}", "evil.svgz": script,
	}
	passive := map[string]string{"notes.txt": "hello", "table.csv": "a,b\n1,2\n"}
	files := map[string]string{}
	for k, v := range active {
		files[k] = v
	}
	for k, v := range passive {
		files[k] = v
	}
	v := e.published("alice", "", addFiles(t, packageZip(t, "upsample-onnx"), files))
	id := v.ModelID
	check := func(path string, inline bool) {
		t.Helper()
		r := e.get("", path)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d: %s", path, r.StatusCode, r.body)
			return
		}
		cd := r.Header.Get("Content-Disposition")
		if inline != strings.HasPrefix(cd, "inline") || !inline && !strings.HasPrefix(cd, "attachment") {
			t.Errorf("%s: Content-Disposition %q, want inline %v", path, cd, inline)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, r.Header.Get("X-Content-Type-Options"))
		}
		// The type stays the file's (an SVG cover still shows in an
		// <img> elsewhere, where it cannot run script); what stops a
		// document from running on zoo's origin is the attachment and
		// the sandbox every response carries.
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
	}
	for name := range active {
		check("/files/"+id+"/1/"+name, false)
		check("/files/"+id+"/"+name, false)
		check("/files/"+id+"/latest/"+name, false)
	}
	for name := range passive {
		check("/files/"+id+"/1/"+name, true)
	}
	check("/packages/"+id+"/1", false)
	check("/packages/"+id, false)
}

// TestUnpublishedFilesAreNotPubliclyCached: every route that serves a
// version's bytes marks them "private" (no shared cache may keep them)
// unless the version is public, in every state a version can be in; only
// published and retired versions may be cached publicly.
func TestUnpublishedFilesAreNotPubliclyCached(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	data := packageZip(t, "upsample-onnx")
	upload := func(query string) *zoo.Version {
		return e.version(e.upload("alice", query, data), http.StatusCreated)
	}
	review := func(v *zoo.Version, action string) *zoo.Version {
		e.runTests()
		return e.version(e.postJSON("rita", versionPath(v)+"/review", ReviewRequest{Action: action, Comment: "a comment"}), http.StatusOK)
	}
	type stated struct {
		v      *zoo.Version
		public bool
	}
	var all []stated
	draft := upload("?draft=true")
	all = append(all, stated{draft, false})
	all = append(all, stated{upload(""), false})
	all = append(all, stated{review(upload(""), repo.RequestChanges), false})
	all = append(all, stated{review(upload(""), repo.Reject), false})
	all = append(all, stated{review(upload(""), "accept"), true})
	retired := review(upload(""), "accept")
	e.version(e.do(req{as: "alice", method: "POST", path: versionPath(retired) + "/retire", body: strings.NewReader(`{"reason":"superseded"}`),
		header: map[string]string{"Content-Type": "application/json"}}), http.StatusOK)
	all = append(all, stated{retired, true})
	seen := map[zoo.State]bool{}
	for _, s := range all {
		got := e.version(e.get("alice", versionPath(s.v)), http.StatusOK)
		seen[got.State] = true
		if got.State.Public() != s.public {
			t.Fatalf("%s/%d is %s; the test expected public %v", got.ModelID, got.Number, got.State, s.public)
		}
		for _, path := range []string{
			"/files/" + got.ModelID + "/" + strconv.Itoa(got.Number) + "/rdf.yaml",
			"/files/" + got.ModelID + "/" + strconv.Itoa(got.Number) + "/weights.onnx",
			"/packages/" + got.ModelID + "/" + strconv.Itoa(got.Number),
		} {
			for _, method := range []string{"GET", "HEAD"} {
				r := e.do(req{as: "alice", method: method, path: path})
				if r.StatusCode != http.StatusOK {
					t.Errorf("%s %s (%s): status %d", method, path, got.State, r.StatusCode)
					continue
				}
				cc := r.Header.Get("Cache-Control")
				if isPublic := strings.Contains(cc, "public") && !strings.Contains(cc, "private"); isPublic != s.public {
					t.Errorf("%s %s (%s): Cache-Control %q", method, path, got.State, cc)
				}
				if !s.public && !strings.Contains(cc, "private") {
					t.Errorf("%s %s (%s): Cache-Control %q lacks private", method, path, got.State, cc)
				}
			}
		}
	}
	for _, st := range []zoo.State{zoo.StateDraft, zoo.StateSubmitted, zoo.StateChangesRequested, zoo.StateRejected, zoo.StatePublished, zoo.StateRetired} {
		if !seen[st] {
			t.Errorf("no version in state %s was tried", st)
		}
	}
}
