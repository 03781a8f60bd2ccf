package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// TestHuggingFaceSnapshot runs the real Hugging Face JS client
// (@huggingface/hub, npm) against zoo serve's handler with every feature:
// listModels with file paths, then snapshotDownload of every fixture
// model into the client's cache (model info, recursive tree, paths-info,
// resolve with its Range probe, the LFS redirect), with HF_ENDPOINT at
// BASE/hf and at BASE. Every file in each snapshot must be byte-identical
// to the package's. It needs node and a folder with
// node_modules/@huggingface/hub named by ZOO_TEST_HFJS
// (scripts/install-test-clients.sh; .ci/run sets it); without them it
// skips (fails under CI and make test: internal/testenv).
func TestHuggingFaceSnapshot(t *testing.T) {
	dir := testenv.NeedNPM(t, "ZOO_TEST_HFJS", "@huggingface/hub")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	st, err := openStorage(ctx, storageFlags{data: t.TempDir()}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, env, err := serveOnly(ctx, st, slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := st.cat.CreateUser(ctx, "alice", zoo.RoleContributor)
	rita, _ := st.cat.CreateUser(ctx, "rita", zoo.RoleReviewer)
	ents, err := os.ReadDir(fixtures.Path(t, "packages"))
	if err != nil {
		t.Fatal(err)
	}
	published := map[string]*zoo.Version{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		pkg, _, err := bundle.Build(fixtures.Path(t, "packages", e.Name()), bundle.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		bundle.Write(&buf, pkg)
		pkg.Close()
		v, err := env.svc.Upload(ctx, alice, &buf, repo.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st.cat.SetTestResult(ctx, v.ModelID, v.Number, zoo.TestPassed, json.RawMessage(`{"status":"passed"}`))
		if v, err = env.svc.Review(ctx, rita, v.ModelID, v.Number, "accept", ""); err != nil {
			t.Fatal(err)
		}
		published[v.ModelID] = v
	}
	if len(published) < 4 {
		t.Fatalf("%d fixture packages", len(published))
	}
	opts, err := webOptions(env)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(env.svc, opts))
	defer srv.Close()

	script, _ := filepath.Abs("testdata/hf-snapshot.mjs")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	// Node resolves imports from the script's folder: copy it beside node_modules.
	f, err := os.CreateTemp(dir, "zoo-hf-snapshot-*.mjs")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Close()
	defer os.Remove(f.Name())
	var ids []string
	for id := range published {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, endpoint := range []string{srv.URL + "/hf", srv.URL} {
		cache := t.TempDir()
		cmd := exec.Command(node, append([]string{f.Name(), endpoint, cache}, ids...)...)
		cmd.Dir = dir
		outb, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("HF_ENDPOINT=%s: the client failed: %v\n%s", endpoint, err, outb)
		}
		_, line, ok := bytes.Cut(outb, []byte("RESULT "))
		if !ok {
			t.Fatalf("no result: %s", outb)
		}
		var out struct {
			Listed    map[string][]string
			Snapshots map[string]string
		}
		if err := json.Unmarshal(bytes.TrimSpace(line), &out); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		for id, v := range published {
			if got := out.Listed[id]; len(got) != len(v.Files) {
				t.Errorf("%s: listModels file paths of %s: %v", endpoint, id, got)
			}
			snap := out.Snapshots[id]
			if !strings.HasPrefix(snap, cache) || filepath.Base(snap) != v.PackageSHA256[:40] {
				t.Errorf("%s: snapshot folder of %s: %q", endpoint, id, snap)
				continue
			}
			want := map[string]string{}
			for _, f := range v.Files {
				want[f.Path] = f.SHA256
			}
			got := map[string]string{}
			filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := os.ReadFile(p) // follows the snapshot's symlink into blobs/
				if err != nil {
					t.Errorf("%s: %v", p, err)
					return nil
				}
				rel, _ := filepath.Rel(snap, p)
				sum := sha256.Sum256(data)
				got[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
				return nil
			})
			if len(got) != len(want) {
				t.Errorf("%s: %s: snapshot has %d files, the package %d", endpoint, id, len(got), len(want))
			}
			for p, sum := range want {
				if got[p] != sum {
					t.Errorf("%s: %s/%s: snapshot sha256 %q, package %s", endpoint, id, p, got[p], sum)
				}
			}
		}
	}
}
