package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/compat"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/web"
)

const nuclei = "unet2d-nuclei-broad-onnx"

// rig is a repository with the nuclei and upsample models published, a
// search index over it and a runner in this process.
type rig struct {
	env     *cachetest.Env
	srv     *Server
	nuclei  *zoo.Version
	scaling *zoo.Version
}

func newRig(t *testing.T, tune func(*Config)) *rig { return newRigTuned(t, tune) }

func newRigTB(tb testing.TB) *rig { return newRigTuned(tb, nil) }

func newRigTuned(t testing.TB, tune func(*Config)) *rig {
	t.Helper()
	env := cachetest.New(t)
	r := &rig{env: env}
	r.nuclei = env.Publish(t, nuclei)
	r.scaling = env.Publish(t, "upsample-onnx")
	idx := search.New(env.Svc.Catalog().(search.Store), env.Svc.Blobs(), compat.Declared)
	if _, err := idx.Sync(context.Background(), env.Svc); err != nil {
		t.Fatal(err)
	}
	cache := modelcache.New(env.Svc, modelcache.Options{TempDir: t.TempDir()})
	t.Cleanup(func() { cache.Close() })
	cfg := Config{Repo: env.Svc, Search: idx, Runner: &DirectRunner{Cache: cache}, Files: true}
	if tune != nil {
		tune(&cfg)
	}
	r.srv = New(cfg)
	return r
}

// progressLog collects the progress notifications a client receives.
type progressLog struct {
	mu    sync.Mutex
	notes []*mcp.ProgressNotificationParams
}

func (p *progressLog) handler(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes = append(p.notes, req.Params)
}

func (p *progressLog) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.notes)
}

// connect opens a client session to srv over the SDK's in-memory transport.
func connect(t *testing.T, srv *mcp.Server, progress *progressLog) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	opts := &mcp.ClientOptions{}
	if progress != nil {
		opts.ProgressNotificationHandler = progress.handler
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, opts).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call calls a tool and decodes its structured result into out (unless
// the call is a tool error); it returns the result.
func call(t *testing.T, cs *mcp.ClientSession, name string, args any, out any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	if !res.IsError && out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: structured content %s: %v", name, b, err)
		}
	}
	return res
}

// toolError returns the text of a tool error, failing if the call
// succeeded.
func toolError(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		t.Fatalf("the call succeeded: %s", b)
	}
	return text(res)
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func TestListTools(t *testing.T) {
	r := newRig(t, nil)
	cs := connect(t, r.srv.Server(nil), nil)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if len(tool.Description) < 60 || tool.InputSchema == nil || tool.OutputSchema == nil {
			t.Errorf("tool %s lacks a description or schemas", tool.Name)
		}
	}
	slices.Sort(names)
	want := slices.Clone(Tools)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("tools %v, want %v", names, want)
	}
	prompts, err := cs.ListPrompts(context.Background(), nil)
	if err != nil || len(prompts.Prompts) != 2 {
		t.Fatalf("prompts: %v %v", prompts, err)
	}
	p, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "segment-nuclei", Arguments: map[string]string{"image": "/data/cells.tif"}})
	if err != nil || !strings.Contains(p.Messages[0].Content.(*mcp.TextContent).Text, "/data/cells.tif") {
		t.Errorf("segment-nuclei prompt: %v %v", p, err)
	}
	if _, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "choose-model", Arguments: map[string]string{"task": "segment"}}); err == nil || !strings.Contains(err.Error(), "data") {
		t.Errorf("choose-model without data: %v", err)
	}
}

func TestSearchAndDescribe(t *testing.T) {
	r := newRig(t, nil)
	cs := connect(t, r.srv.Server(nil), nil)
	var found SearchOut
	call(t, cs, "search_models", map[string]any{"query": "nuclei"}, &found)
	ref := r.nuclei.ModelID + "/1"
	if found.Total != 1 || len(found.Models) != 1 || found.Models[0].Ref != ref || found.Models[0].Name != "UNet 2D Nuclei Broad" {
		t.Fatalf("search nuclei: %+v", found)
	}
	if in := found.Models[0].Inputs; len(in) != 1 || !strings.Contains(in[0], "raw: float32 array with axes batch (1), channel (1), y (512), x (512)") {
		t.Errorf("search hit's inputs: %q", in)
	}
	// Facets narrow: the upsample model is 2d ONNX too; tag nucleus keeps nuclei.
	call(t, cs, "search_models", map[string]any{"tags": []string{"nucleus"}, "weight_format": []string{"onnx"}}, &found)
	if found.Total != 1 || found.Models[0].ID != r.nuclei.ModelID {
		t.Errorf("search tag nucleus: %+v", found)
	}

	var d DescribeOut
	call(t, cs, "describe_model", map[string]any{"model": r.nuclei.ModelID}, &d)
	if d.Ref != ref || d.State != "published" || d.License != "MIT" || !slices.Equal(d.Dims, []string{"2d"}) || !strings.Contains(d.Summary, "one input (2d)") || len(d.Citations) != 2 || d.Citations[0].DOI != "10.1007/978-3-319-24574-4_28" {
		t.Errorf("describe: %+v", d)
	}
	if len(d.Inputs) != 1 || !strings.Contains(d.Inputs[0].Words, "Channels: raw_intensity") ||
		!strings.Contains(d.Inputs[0].Words, "normalised to zero mean and unit variance over x, y") {
		t.Errorf("input in words: %+v", d.Inputs)
	}
	if len(d.Outputs) != 1 || !strings.Contains(d.Outputs[0].Words, "same as raw.y") || !strings.Contains(d.Outputs[0].Words, "probability in [0,1]") {
		t.Errorf("output in words: %+v", d.Outputs)
	}
	if d.TestStatus != "passed" || !slices.Contains(d.WeightFormats, "onnx") || !slices.Contains(d.ToolsDeclared, "zoo") || len(d.RunElsewhere) < 3 {
		t.Errorf("describe: tests/tools/run: %+v", d)
	}
	// Its description and documentation are resources.
	rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: d.Resources["documentation"]})
	if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text == "" || rr.Contents[0].MIMEType != "text/markdown" {
		t.Fatalf("documentation resource %s: %+v %v", d.Resources["documentation"], rr, err)
	}
	rr, err = cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "zoo://models/" + r.nuclei.ModelID + "/latest/" + r.nuclei.DescriptionFile})
	if err != nil || !strings.Contains(rr.Contents[0].Text, "UNet 2D Nuclei Broad") {
		t.Fatalf("description resource: %+v %v", rr, err)
	}
	for _, bad := range []string{"zoo://models/" + r.nuclei.ModelID + "/1/../../etc/passwd", "zoo://models/nope/1/rdf.yaml", "zoo://models/" + r.nuclei.ModelID + "/0/README.md"} {
		if _, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: bad}); err == nil {
			t.Errorf("resource %s was read", bad)
		}
	}
}

func TestDraftVisibleToItsUploaderOnly(t *testing.T) {
	r := newRig(t, nil)
	draft := r.env.Upload(t, "unet2d-multi-tensor-onnx", true)
	anon := connect(t, r.srv.Server(nil), nil)
	owner := connect(t, r.srv.Server(r.env.Contributor), nil)
	for _, ref := range []string{draft.ModelID, draft.ModelID + "/1"} {
		msg := toolError(t, call(t, anon, "describe_model", map[string]any{"model": ref}, nil))
		if !strings.Contains(msg, "no model "+ref+" that you may see") || !strings.Contains(msg, "search_models") {
			t.Errorf("anonymous describe %s: %s", ref, msg)
		}
		var d DescribeOut
		if res := call(t, owner, "describe_model", map[string]any{"model": ref}, &d); res.IsError || d.State != "draft" {
			t.Errorf("owner describe %s: %s %+v", ref, text(res), d)
		}
	}
	uri := "zoo://models/" + draft.ModelID + "/1/" + draft.DescriptionFile
	if _, err := anon.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri}); err == nil {
		t.Error("an anonymous client read a draft's description")
	}
	if _, err := owner.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri}); err != nil {
		t.Errorf("the uploader cannot read its draft: %v", err)
	}
	var st StatusOut
	call(t, owner, "model_status", map[string]any{"model": draft.ModelID + "/1"}, &st)
	if st.State != "draft" || !strings.Contains(st.Next, "submit") {
		t.Errorf("status: %+v", st)
	}
}

func TestBadArgumentsAreToolErrors(t *testing.T) {
	r := newRig(t, nil)
	cs := connect(t, r.srv.Server(nil), nil)
	ref := r.nuclei.ModelID + "/1"
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"describe_model", map[string]any{}, `missing properties: ["model"]`},
		{"describe_model", map[string]any{"model": ""}, "name a model"},
		{"describe_model", map[string]any{"model": "Not An Id"}, "lower-case letters"},
		{"describe_model", map[string]any{"model": r.nuclei.ModelID + "/zero"}, "version number ≥ 1"},
		{"describe_model", map[string]any{"model": r.nuclei.ModelID + "/7"}, "no model " + r.nuclei.ModelID + "/7"},
		{"search_models", map[string]any{"limit": 500}, "limit 500: give 1 to 25"},
		{"search_models", map[string]any{"limit": "ten"}, "validating"},
		{"search_models", map[string]any{"sort": "name"}, "sort"},
		{"run_model", map[string]any{"model": ref}, "give the image"},
		{"run_model", map[string]any{"model": ref, "path": "/no/such/image.tif"}, "cannot read /no/such/image.tif"},
		{"run_model", map[string]any{"model": ref, "path": "/etc/passwd"}, "not a .tif"},
		{"run_model", map[string]any{"model": ref, "image_base64": "%%%"}, "not valid base64"},
		{"run_model", map[string]any{"model": ref, "image_base64": "aGVsbG8gd29ybGQ="}, "image"},
		{"validate_description", map[string]any{}, "give the description"},
		{"upload_model", map[string]any{"package_base64": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}, "needs an API token"},
		{"show_leaderboard", map[string]any{"challenge": "x"}, "runs no challenges"},
	} {
		msg := toolError(t, call(t, cs, c.tool, c.args, nil))
		if !strings.Contains(msg, c.want) || strings.HasPrefix(msg, "mcp") {
			t.Errorf("%s %v: %q, want it to say %q", c.tool, c.args, msg, c.want)
		}
	}
}

func TestRemoteServerRefusesLocalPaths(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Files = false; c.MaxImageBytes = 1 << 10; c.MaxPackageBytes = 1 << 10 })
	cs := connect(t, r.srv.Server(r.env.Contributor), nil)
	ref := r.nuclei.ModelID + "/1"
	for tool, args := range map[string]map[string]any{
		"run_model":            {"model": ref, "path": "/tmp/x.tif"},
		"validate_description": {"path": "/tmp/rdf.yaml"},
	} {
		if msg := toolError(t, call(t, cs, tool, args, nil)); !strings.Contains(msg, "cannot read files on your computer") {
			t.Errorf("%s with a path: %s", tool, msg)
		}
	}
	big := base64.StdEncoding.EncodeToString(make([]byte, 2<<10))
	if msg := toolError(t, call(t, cs, "run_model", map[string]any{"model": ref, "image_base64": big}, nil)); !strings.Contains(msg, "larger than 0 MiB") && !strings.Contains(msg, "limit of images") {
		t.Errorf("too large an image: %s", msg)
	}
	if msg := toolError(t, call(t, cs, "upload_model", map[string]any{"package_base64": big}, nil)); !strings.Contains(msg, "the limit of packages sent in a call") {
		t.Errorf("too large a package: %s", msg)
	}
	if msg := toolError(t, call(t, cs, "upload_model", map[string]any{"path": "/tmp/pkg"}, nil)); !strings.Contains(msg, "cannot read files on your computer") {
		t.Errorf("upload with a path: %s", msg)
	}
	if got, want := r.srv.MaxMessageBytes(), int64(1<<10*4/3+1<<20); got != want {
		t.Errorf("MaxMessageBytes %d, want %d", got, want)
	}
}

func TestValidateGivesLines(t *testing.T) {
	r := newRig(t, nil)
	cs := connect(t, r.srv.Server(nil), nil)
	yaml, err := os.ReadFile(fixtures.Path(t, "packages", nuclei, "bioimageio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v ValidateOut
	call(t, cs, "validate_description", map[string]any{"yaml": string(yaml)}, &v)
	if !v.Valid || len(v.Errors) != 0 {
		t.Errorf("the fixture: %+v", v)
	}
	bad := strings.Replace(string(yaml), "license: MIT", "license: 42\nlicence_typo: x", 1)
	call(t, cs, "validate_description", map[string]any{"yaml": bad}, &v)
	if v.Valid || len(v.Errors) == 0 || v.Errors[0].Line == 0 || !strings.Contains(v.Next, "fix the errors") {
		t.Fatalf("a broken description: %+v", v)
	}
	// A package folder with its files (local paths allowed here).
	call(t, cs, "validate_description", map[string]any{"path": fixtures.Path(t, "packages", nuclei)}, &v)
	if !v.Valid {
		t.Errorf("the fixture folder: %+v", v)
	}
}

func TestUploadAsTokenUser(t *testing.T) {
	r := newRig(t, nil)
	cs := connect(t, r.srv.Server(r.env.Contributor), nil)
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", "unet2d-diff-output-shape-onnx"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var zip bytes.Buffer
	if _, _, err := bundle.Write(&zip, pkg); err != nil {
		t.Fatal(err)
	}
	pkg.Close()
	var st StatusOut
	res := call(t, cs, "upload_model", map[string]any{"package_base64": base64.StdEncoding.EncodeToString(zip.Bytes())}, &st)
	if res.IsError || st.State != "submitted" || st.Ref == "" {
		t.Fatalf("upload: %s %+v", text(res), st)
	}
	first := st.Ref
	// The same package again: stored, with the duplicate named (issue 17).
	res = call(t, cs, "upload_model", map[string]any{"package_base64": base64.StdEncoding.EncodeToString(zip.Bytes())}, &st)
	if id, n, _ := strings.Cut(st.Ref, "/"); res.IsError || !strings.Contains(st.Next, "the same content is already at "+first) ||
		!strings.Contains(st.Next, "POST /api/v1/models/"+id+"/versions/"+n+"/withdraw") {
		t.Errorf("re-upload: %s %+v", text(res), st)
	}
	// From a local folder, as a draft.
	res = call(t, cs, "upload_model", map[string]any{"path": fixtures.Path(t, "packages", "unet2d-multi-tensor-onnx"), "draft": true}, &st)
	if res.IsError || st.State != "draft" || !strings.Contains(st.Next, "/versions/1/submit") {
		t.Fatalf("upload path: %s %+v", text(res), st)
	}
	// An invalid package: the problems with lines.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rdf.yaml"), []byte("type: model\nformat_version: 0.5.4\nname: x\n"), 0o644)
	msg := toolError(t, call(t, cs, "upload_model", map[string]any{"path": dir}, nil))
	if !strings.Contains(msg, "the package is invalid") || !strings.Contains(msg, "line ") {
		t.Errorf("invalid upload: %s", msg)
	}
}

func needONNX(t testing.TB) {
	t.Helper()
	testenv.Need(t, testenv.ONNXRuntime, onnx.Init())

}

// run_model in local mode writes what runner.PredictFile (zoo predict)
// writes for the same image, reports progress and returns a preview.
func TestRunLocalFileMatchesPredict(t *testing.T) {
	needONNX(t)
	r := newRig(t, nil)
	progress := &progressLog{}
	cs := connect(t, r.srv.Server(nil), progress)
	img := fixtures.Path(t, "packages", nuclei, "test_input.npy")
	out := t.TempDir()
	params := &mcp.CallToolParams{Name: "run_model", Arguments: map[string]any{"model": r.nuclei.ModelID, "path": img, "output_dir": out}}
	params.SetProgressToken("run-1")
	res, err := cs.CallTool(context.Background(), params)
	if err != nil || res.IsError {
		t.Fatalf("run_model: %v %s", err, text(res))
	}
	var ro RunOut
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &ro)
	if len(ro.ResultPaths) != 1 || !slices.Equal(ro.Shape, []int{1, 1, 512, 512}) || !strings.Contains(ro.Meaning, "probabilit") {
		t.Fatalf("run_model result: %s", b)
	}
	var preview bool
	for _, c := range res.Content {
		if ic, ok := c.(*mcp.ImageContent); ok && ic.MIMEType == "image/png" && len(ic.Data) > 100 {
			preview = true
		}
	}
	if !preview {
		t.Error("no preview image in the result")
	}
	if progress.count() < 2 {
		t.Errorf("%d progress notifications", progress.count())
	}
	got, err := os.ReadFile(ro.ResultPaths[0])
	if err != nil {
		t.Fatal(err)
	}
	// zoo predict's own path on the same image.
	pkg, err := runner.Load(fixtures.Path(t, "packages", nuclei), runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.NewPredictor(pkg, "", runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := t.TempDir()
	written, _, err := runner.PredictFile(context.Background(), p, img, want, nil, runner.Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := os.ReadFile(written[0])
	if !bytes.Equal(got, wb) {
		g, _ := npy.Read(bytes.NewReader(got))
		w, _ := npy.Read(bytes.NewReader(wb))
		t.Errorf("run_model's output differs from zoo predict's: %v vs %v", g.Shape, w.Shape)
	}
}

func TestRunLimitPerClient(t *testing.T) {
	s := New(Config{MaxRunsPerClient: 2})
	r1, err := s.acquireRun("a")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.acquireRun("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquireRun("a"); err == nil || !strings.Contains(zoo.MessageOf(err), "wait for one to finish") {
		t.Errorf("third run: %v", err)
	}
	if r3, err := s.acquireRun("b"); err != nil {
		t.Errorf("another client: %v", err)
	} else {
		r3()
	}
	r1()
	if r4, err := s.acquireRun("a"); err != nil {
		t.Errorf("after a release: %v", err)
	} else {
		r4()
	}
	r2()
	if len(s.runs) != 0 {
		t.Errorf("runs left: %v", s.runs)
	}
}

// Over streamable HTTP behind web's authentication: anonymous sees
// published models only, a token acts as its user, a bad token is 401.
func TestHTTPAuth(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Files = false; c.MaxImageBytes = 1 << 10; c.MaxPackageBytes = 1 << 10 })
	draft := r.env.Upload(t, "unet2d-multi-tensor-onnx", true)
	secret := web.NewToken()
	if _, err := r.env.Svc.Catalog().CreateToken(context.Background(), r.env.Contributor.ID, web.HashToken(secret)); err != nil {
		t.Fatal(err)
	}
	h := r.srv.Handler()
	srv := httptest.NewServer(web.New(r.env.Svc, web.Options{Routes: []web.Route{
		{Pattern: "POST /mcp", Auth: true, Handler: h}, {Pattern: "GET /mcp", Auth: true, Handler: h}, {Pattern: "DELETE /mcp", Auth: true, Handler: h},
	}}))
	defer srv.Close()
	dial := func(token string) (*mcp.ClientSession, error) {
		tr := &mcp.StreamableClientTransport{Endpoint: srv.URL + "/mcp"}
		if token != "" {
			tr.HTTPClient = &http.Client{Transport: bearer{token}}
		}
		return mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), tr, nil)
	}
	anon, err := dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	owner, err := dial(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	ref := draft.ModelID + "/1"
	if msg := toolError(t, call(t, anon, "describe_model", map[string]any{"model": ref}, nil)); !strings.Contains(msg, "no model") {
		t.Errorf("anonymous: %s", msg)
	}
	var d DescribeOut
	if res := call(t, owner, "describe_model", map[string]any{"model": ref}, &d); res.IsError || d.State != "draft" {
		t.Errorf("owner: %s", text(res))
	}
	call(t, anon, "describe_model", map[string]any{"model": r.nuclei.ModelID}, &d)
	if !strings.HasPrefix(d.RunElsewhere[1], "download the package "+srv.URL+"/packages/") {
		t.Errorf("links are not absolute: %q", d.RunElsewhere[1])
	}
	// A body over MaxMessageBytes is refused before it is parsed.
	huge := strings.Repeat("A", int(r.srv.MaxMessageBytes())+1)
	// (A tool error is no refusal: the body was read and the tool ran.)
	if res, err := anon.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_model", Arguments: map[string]any{"model": "x", "image_base64": huge}}); err == nil {
		t.Errorf("a body over the limit was read: tool error %v, %s", res.IsError, text(res))
	} else if !strings.Contains(err.Error(), "413") && !strings.Contains(strings.ToLower(err.Error()), "too large") {
		t.Errorf("a body over the limit: %v, want a 413 refusal", err)
	}
	if _, err := dial("zoo_wrong"); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Errorf("a bad token: %v", err)
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// blockingRunner holds every run until release is closed or its context
// ends.
type blockingRunner struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingRunner) Run(ctx context.Context, u *zoo.User, in RunInput, progress Progress) (*RunResult, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return &RunResult{Tiles: 1}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// The limit of runs at once per client, through the tool: a third run
// while two hold is refused with what to do; another client still runs.
func TestRunLimitThroughTheTool(t *testing.T) {
	br := &blockingRunner{started: make(chan struct{}, 4), release: make(chan struct{})}
	r := newRig(t, func(c *Config) { c.Runner = br; c.MaxRunsPerClient = 2 })
	cs := connect(t, r.srv.Server(r.env.Contributor), nil)
	other := connect(t, r.srv.Server(r.env.Reviewer), nil)
	img := base64.StdEncoding.EncodeToString([]byte("\x93NUMPY"))
	args := map[string]any{"model": r.nuclei.ModelID, "image_base64": img, "output_dir": t.TempDir()}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := call(t, cs, "run_model", args, nil); res.IsError {
				t.Errorf("a run within the limit: %s", text(res))
			}
		}()
		<-br.started
	}
	if msg := toolError(t, call(t, cs, "run_model", args, nil)); !strings.Contains(msg, "you already have 2 runs in progress") {
		t.Errorf("a third run: %s", msg)
	}
	done := make(chan *mcp.CallToolResult)
	go func() { done <- call(t, other, "run_model", args, nil) }()
	<-br.started
	close(br.release)
	if res := <-done; res.IsError {
		t.Errorf("another user's run: %s", text(res))
	}
	wg.Wait()
}

// A run past the time limit stops with a message saying so.
func TestRunTimeLimit(t *testing.T) {
	br := &blockingRunner{started: make(chan struct{}, 1), release: make(chan struct{})}
	r := newRig(t, func(c *Config) { c.Runner = br; c.RunTimeout = 200 * time.Millisecond })
	cs := connect(t, r.srv.Server(nil), nil)
	args := map[string]any{"model": r.nuclei.ModelID, "image_base64": "AAAA"}
	if msg := toolError(t, call(t, cs, "run_model", args, nil)); !strings.Contains(msg, "took too long and was stopped") {
		t.Errorf("a run past the limit: %s", msg)
	}
	// A draft never runs, even for its uploader.
	draft := r.env.Upload(t, "unet2d-multi-tensor-onnx", true)
	owner := connect(t, r.srv.Server(r.env.Contributor), nil)
	if msg := toolError(t, call(t, owner, "run_model", map[string]any{"model": draft.ModelID, "image_base64": "AAAA"}, nil)); !strings.Contains(msg, "not published") {
		t.Errorf("a draft run: %s", msg)
	}
}

// noQueue accepts jobs and never runs them.
type noQueue struct{}

func (noQueue) Enqueue(context.Context, string, any) (int64, error) { return 1, nil }

// A run whose job does not finish in time is cancelled, not left to run
// for nobody, and the caller is told.
func TestJobsRunnerCancelsPastTheTimeLimit(t *testing.T) {
	var js *infer.Service
	r := newRig(t, func(c *Config) {
		store := c.Repo.Catalog().(interface{ Jobs() jobs.Store }).Jobs()
		js = infer.New(infer.Options{Store: store, Repo: c.Repo, Queue: noQueue{}, TempDir: t.TempDir()})
		c.Runner = &JobsRunner{Jobs: js, Blobs: c.Repo.Blobs(), Poll: 20 * time.Millisecond}
		c.Files = false
		c.RunTimeout = 300 * time.Millisecond
	})
	progress := &progressLog{}
	cs := connect(t, r.srv.Server(nil), progress)
	img, err := os.ReadFile(fixtures.Path(t, "packages", nuclei, "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	params := &mcp.CallToolParams{Name: "run_model", Arguments: map[string]any{"model": r.nuclei.ModelID, "image_base64": base64.StdEncoding.EncodeToString(img)}}
	params.SetProgressToken(7)
	res, err := cs.CallTool(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if msg := toolError(t, res); !strings.Contains(msg, "took too long and was stopped") {
		t.Errorf("past the limit: %s", msg)
	}
	if progress.count() == 0 || progress.notes[0].Message != "queued" {
		t.Errorf("progress: %d notes", progress.count())
	}
	active, err := r.env.Svc.Catalog().(interface{ Jobs() jobs.Store }).Jobs().ActiveJobs(context.Background())
	if err != nil || active != 0 {
		t.Errorf("%d jobs still active (%v): the timed-out job was not cancelled", active, err)
	}
}
