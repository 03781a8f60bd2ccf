package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/mcpserver"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// mcpInstance is a zoo serve with the nuclei and upsample models
// published, a contributor's token and a draft of hers.
type mcpInstance struct {
	server, data, alice string
	nuclei, draft       string // model ids
}

func startMCPInstance(t *testing.T) *mcpInstance {
	t.Helper()
	seed := t.TempDir()
	for _, name := range []string{"unet2d-nuclei-broad-onnx", "upsample-onnx"} { // the nuclei one also seeds the challenge nuclei-demo
		if err := os.Rename(copyDir(t, fixtures.Path(t, "packages", name)), filepath.Join(seed, name)); err != nil {
			t.Fatal(err)
		}
	}
	in := &mcpInstance{data: t.TempDir()}
	storage := []string{"--data", in.data}
	in.alice = token(t, storage, "alice", "contributor")
	in.server, _ = startServe(t, append(storage, "--seed", seed, "--workers", "1")...)
	var up struct{ ID string }
	out := zooOK(t, "upload", "--server", in.server, "--token", in.alice, "--draft", "--json", copyDir(t, fixtures.Path(t, "packages", "unet2d-multi-tensor-onnx")))
	if err := json.Unmarshal([]byte(out), &up); err != nil || up.ID == "" {
		t.Fatalf("upload --draft: %q %v", out, err)
	}
	in.draft = up.ID
	return in
}

type bearerRT struct{ token string }

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// progressCounter counts the progress notifications a client receives.
type progressCounter struct {
	mu sync.Mutex
	n  int
}

func (p *progressCounter) handle(context.Context, *mcp.ProgressNotificationClientRequest) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
}

func (p *progressCounter) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// dialHTTP connects the SDK's client to server/mcp over streamable HTTP.
func dialHTTP(t *testing.T, server, tok string, progress *progressCounter) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: server + "/mcp"}
	if tok != "" {
		tr.HTTPClient = &http.Client{Transport: bearerRT{tok}}
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ClientOptions{ProgressNotificationHandler: progress.handle}).
		Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// dialStdio runs zoo mcp ARGS in-process on pipes (its standard input and
// output) and connects the SDK's client to it.
func dialStdio(t *testing.T, progress *progressCounter, args ...string) *mcp.ClientSession {
	t.Helper()
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	root := newRoot()
	var errb syncBuffer
	root.SetIn(toServer)
	root.SetOut(fromServer)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"mcp"}, args...))
	done := make(chan error, 1)
	go func() {
		err := root.Execute()
		fromServer.Close()
		done <- err
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ClientOptions{ProgressNotificationHandler: progress.handle}).
		Connect(context.Background(), &mcp.IOTransport{Reader: toClient, Writer: fromClient}, nil)
	if err != nil {
		t.Fatalf("zoo mcp %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	t.Cleanup(func() {
		cs.Close()
		fromClient.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("zoo mcp %s: %v\n%s", strings.Join(args, " "), err, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("zoo mcp did not stop when its input closed")
		}
	})
	return cs
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, out any) *mcp.CallToolResult {
	t.Helper()
	params := &mcp.CallToolParams{Name: name, Arguments: args}
	params.SetProgressToken(name + "-progress")
	res, err := cs.CallTool(context.Background(), params)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !res.IsError && out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %s: %v", name, b, err)
		}
	}
	return res
}

func resultText(res *mcp.CallToolResult) string {
	var s []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			s = append(s, tc.Text)
		}
	}
	return strings.Join(s, "\n")
}

// checkCatalogue runs the checks every door must pass: the tools, search
// finds the nuclei model, describe gives its input/output in words, a
// draft is invisible anonymously, bad arguments are tool errors.
func checkCatalogue(t *testing.T, anon, owner *mcp.ClientSession, draft string) (nucleiRef string) {
	t.Helper()
	tools, err := anon.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	for _, want := range mcpserver.Tools {
		if !slices.Contains(names, want) {
			t.Errorf("tool %s missing from %v", want, names)
		}
	}
	var found mcpserver.SearchOut
	callTool(t, anon, "search_models", map[string]any{"query": "nuclei"}, &found)
	if found.Total != 1 || found.Models[0].Name != "UNet 2D Nuclei Broad" || found.Models[0].Test != "reproduces" {
		t.Fatalf("search nuclei: %+v", found)
	}
	nucleiRef = found.Models[0].Ref
	var d mcpserver.DescribeOut
	callTool(t, anon, "describe_model", map[string]any{"model": nucleiRef}, &d)
	if len(d.Inputs) != 1 || !strings.Contains(d.Inputs[0].Words, "raw: float32 array with axes batch (1), channel (1), y (512), x (512)") ||
		len(d.Outputs) != 1 || !strings.Contains(d.Outputs[0].Words, "probability") || d.TestByFormat["onnx"] == "" {
		t.Errorf("describe: %+v", d)
	}
	if res := callTool(t, anon, "describe_model", map[string]any{"model": draft}, nil); !res.IsError || !strings.Contains(resultText(res), "no model "+draft) {
		t.Errorf("an anonymous client sees the draft: %s", resultText(res))
	}
	if owner != nil {
		if res := callTool(t, owner, "describe_model", map[string]any{"model": draft}, &d); res.IsError || d.State != "draft" {
			t.Errorf("the uploader cannot see her draft: %s", resultText(res))
		}
	}
	if res := callTool(t, anon, "describe_model", map[string]any{"model": "Bad Id"}, nil); !res.IsError || !strings.Contains(resultText(res), "lower-case letters") {
		t.Errorf("a bad id: %s", resultText(res))
	}
	if res := callTool(t, anon, "search_models", map[string]any{"limit": -1}, nil); !res.IsError || !strings.Contains(resultText(res), "give 1 to 25") {
		t.Errorf("a bad limit: %s", resultText(res))
	}
	var cs mcpserver.ChallengesOut
	callTool(t, anon, "list_challenges", map[string]any{}, &cs)
	if len(cs.Challenges) != 1 || cs.Challenges[0].Slug != "nuclei-demo" || len(cs.Challenges[0].Metrics) == 0 {
		t.Errorf("list_challenges: %+v", cs)
	}
	var lb mcpserver.LeaderboardOut
	if res := callTool(t, anon, "show_leaderboard", map[string]any{"challenge": "nuclei-demo"}, &lb); res.IsError || lb.Phase == "" || len(lb.Metrics) == 0 ||
		len(lb.Rows) > 0 && lb.Rows[0].Rank != 1 {
		t.Errorf("show_leaderboard: %s %+v", resultText(res), lb)
	}
	if res := callTool(t, anon, "show_leaderboard", map[string]any{"challenge": "no-such"}, nil); !res.IsError || !strings.Contains(resultText(res), "list_challenges") {
		t.Errorf("an unknown challenge: %s", resultText(res))
	}
	return nucleiRef
}

// predictRef runs zoo predict on img with the nuclei fixture and returns
// its output.
func predictRef(t *testing.T, img string) *tensor.Tensor {
	t.Helper()
	out := t.TempDir()
	zooOK(t, "predict", "--model", fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"), "--input", img, "--output", out)
	y, err := npy.ReadFile(filepath.Join(out, filepath.Base(img)))
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func sameTensor(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) || got.DType != want.DType || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s differs from zoo predict's output: %v %s vs %v %s", what, got.Shape, got.DType, want.Shape, want.DType)
	}
}

// Over streamable HTTP against zoo serve: the catalogue checks, and
// run_model as an inference job with progress, whose result (downloaded
// from its URL) equals zoo predict's.
//
// zoo mcp over stdio, both ways: --server (a proxy to serve's /mcp that
// reads and writes local files) and --data (the repository opened here).
// Each passes the catalogue checks, and run_model on a local file writes
// what zoo predict writes. One instance serves all three doors.
func TestMCPOverHTTPAndStdio(t *testing.T) {
	needORT(t)
	in := startMCPInstance(t)
	img := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.npy")
	want := predictRef(t, img)
	t.Run("http", func(t *testing.T) { mcpOverHTTP(t, in, img, want) })
	t.Run("stdio", func(t *testing.T) { mcpOverStdio(t, in, img, want) })
}

func mcpOverHTTP(t *testing.T, in *mcpInstance, img string, want *tensor.Tensor) {
	progress := &progressCounter{}
	anon := dialHTTP(t, in.server, "", progress)
	owner := dialHTTP(t, in.server, in.alice, &progressCounter{})
	ref := checkCatalogue(t, anon, owner, in.draft)

	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	var ro mcpserver.RunOut
	res := callTool(t, anon, "run_model", map[string]any{"model": ref, "image_base64": base64.StdEncoding.EncodeToString(data)}, &ro)
	if res.IsError || ro.Job == "" || !strings.HasPrefix(ro.ResultURL, in.server+"/api/v1/jobs/") || ro.Links["result_npy"] == "" {
		t.Fatalf("run_model: %s %+v", resultText(res), ro)
	}
	if progress.count() == 0 {
		t.Error("no progress notifications")
	}
	hasPreview := false
	for _, c := range res.Content {
		if ic, ok := c.(*mcp.ImageContent); ok && ic.MIMEType == "image/png" {
			hasPreview = true
		}
	}
	if !hasPreview {
		t.Error("no preview image")
	}
	resp, err := http.Get(ro.Links["result_npy"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got, err := npy.Read(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("result %s: %d %v", ro.Links["result_npy"], resp.StatusCode, err)
	}
	sameTensor(t, "the MCP run's result", got, want)

	// Local paths are refused by a remote server.
	if res := callTool(t, anon, "run_model", map[string]any{"model": ref, "path": img}, nil); !res.IsError || !strings.Contains(resultText(res), "cannot read files on your computer") {
		t.Errorf("run_model with a path over HTTP: %s", resultText(res))
	}
	// zoo mcp as a real child process over its standard input and output
	// (this test binary re-executed as zoo, see TestMain), proxying to
	// the same server.
	cmd := exec.Command(os.Args[0], "mcp", "--server", in.server)
	cmd.Env = append(os.Environ(), asZooEnv+"=1")
	proc, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found mcpserver.SearchOut
	callTool(t, proc, "search_models", map[string]any{"query": "nuclei"}, &found)
	if found.Total != 1 || found.Models[0].Ref != ref {
		t.Errorf("search through a zoo mcp process: %+v", found)
	}
	if err := proc.Close(); err != nil {
		t.Errorf("closing the zoo mcp process: %v", err)
	}

	// A bad token is refused before any tool runs.
	tr := &mcp.StreamableClientTransport{Endpoint: in.server + "/mcp", HTTPClient: &http.Client{Transport: bearerRT{"zoo_not-a-token"}}}
	if _, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), tr, nil); err == nil {
		t.Error("a bad token was accepted")
	}
}

func mcpOverStdio(t *testing.T, in *mcpInstance, img string, want *tensor.Tensor) {
	for _, door := range []struct {
		name string
		args []string
	}{
		{"server", []string{"--server", in.server}},
		{"data", []string{"--data", in.data, "--workers", "0"}}, // serve works the queue
	} {
		t.Run(door.name, func(t *testing.T) {
			progress := &progressCounter{}
			anon := dialStdio(t, progress, door.args...)
			owner := dialStdio(t, &progressCounter{}, append(door.args, "--token", in.alice)...)
			ref := checkCatalogue(t, anon, owner, in.draft)

			out := t.TempDir()
			var ro mcpserver.RunOut
			res := callTool(t, anon, "run_model", map[string]any{"model": ref, "path": img, "output_dir": out}, &ro)
			if res.IsError || len(ro.ResultPaths) != 1 {
				t.Fatalf("run_model: %s %+v", resultText(res), ro)
			}
			if progress.count() == 0 {
				t.Error("no progress notifications")
			}
			got, err := npy.ReadFile(ro.ResultPaths[0])
			if err != nil {
				t.Fatal(err)
			}
			sameTensor(t, fmt.Sprintf("zoo mcp %s's result", door.name), got, want)

			// Validation of a local folder, with its files.
			var v mcpserver.ValidateOut
			callTool(t, anon, "validate_description", map[string]any{"path": fixtures.Path(t, "packages", "upsample-onnx")}, &v)
			if !v.Valid {
				t.Errorf("validate a fixture folder: %+v", v)
			}
			// Upload of a local folder as the token's user.
			var st mcpserver.StatusOut
			res = callTool(t, owner, "upload_model", map[string]any{"path": copyDir(t, fixtures.Path(t, "packages", "unet2d-diff-output-shape-onnx")), "draft": true}, &st)
			if res.IsError || st.State != "draft" || st.Ref == "" {
				t.Errorf("upload_model: %s %+v", resultText(res), st)
			}
			if res := callTool(t, anon, "upload_model", map[string]any{"path": fixtures.Path(t, "packages", "upsample-onnx")}, nil); !res.IsError || !strings.Contains(resultText(res), "token") {
				t.Errorf("an anonymous upload: %s", resultText(res))
			}
		})
	}
}

func TestMCPUsage(t *testing.T) {
	if code, msg := zooFail(t, "mcp"); code != 2 || !strings.Contains(msg, "--server URL") {
		t.Errorf("zoo mcp alone: %d %s", code, msg)
	}
	if code, msg := zooFail(t, "mcp", "--server", "http://127.0.0.1:1", "--data", t.TempDir()); code != 2 || !strings.Contains(msg, "not both") {
		t.Errorf("both: %d %s", code, msg)
	}
	if code, msg := zooFail(t, "mcp", "--server", "http://127.0.0.1:1"); code == 0 || !strings.Contains(msg, "cannot open an MCP session") {
		t.Errorf("no server: %d %s", code, msg)
	}
}

// zoo mcp --data alone is a whole local repository: an upload's test runs
// in its worker, and model_status reports the outcome.
func TestMCPDataRunsUploadTests(t *testing.T) {
	needORT(t)
	data := t.TempDir()
	alice := token(t, []string{"--data", data}, "alice", "contributor")
	cs := dialStdio(t, &progressCounter{}, "--data", data, "--token", alice)
	var st mcpserver.StatusOut
	res := callTool(t, cs, "upload_model", map[string]any{"path": copyDir(t, fixtures.Path(t, "packages", "upsample-onnx"))}, &st)
	if res.IsError || st.State != "submitted" || st.TestStatus != "pending" {
		t.Fatalf("upload_model: %s %+v", resultText(res), st)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for st.TestStatus == "pending" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		callTool(t, cs, "model_status", map[string]any{"model": st.Ref}, &st)
	}
	if st.TestStatus != "passed" || st.TestByFormat["onnx"] == "" || !strings.Contains(st.Next, "reviewer") {
		t.Errorf("model_status after the test: %+v", st)
	}
}

// roundRobin sends each request to the next of several replicas, like a
// load balancer without sticky sessions.
type roundRobin struct {
	mu    sync.Mutex
	hosts []string
	next  int
	seen  map[string]int
}

func (rr *roundRobin) RoundTrip(r *http.Request) (*http.Response, error) {
	rr.mu.Lock()
	host := rr.hosts[rr.next%len(rr.hosts)]
	rr.next++
	rr.seen[host]++
	rr.mu.Unlock()
	r = r.Clone(r.Context())
	r.URL.Host, r.Host = host, host
	return http.DefaultTransport.RoundTrip(r)
}

// /mcp is stateless: behind a round-robin balancer over two replicas on
// PostgreSQL and S3, one client session searches, describes and runs (the
// job queued through one replica, run by the other's worker, polled by
// whichever answers).
func TestMCPScaleOut(t *testing.T) {
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	needORT(t)
	dsn := pgtest.DSN(t)
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/mcp-" + strings.ToLower(rand.Text()[:10])
	store, err := s3.New(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		store.Walk(ctx, func(sha string, _ int64) error { keys = append(keys, sha); return nil })
		for _, k := range keys {
			store.Delete(ctx, k)
		}
	})
	seed := t.TempDir()
	if err := os.Rename(copyDir(t, fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")), filepath.Join(seed, "unet2d-nuclei-broad-onnx")); err != nil {
		t.Fatal(err)
	}
	storage := []string{"--db", dsn, "--blobs", u.String()}
	a, _ := startServe(t, append(storage, "--seed", seed, "--workers", "0")...)
	b, _ := startServe(t, append(storage, "--workers", "1")...)
	rr := &roundRobin{seen: map[string]int{}}
	for _, s := range []string{a, b} {
		su, _ := url.Parse(s)
		rr.hosts = append(rr.hosts, su.Host)
	}
	progress := &progressCounter{}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ClientOptions{ProgressNotificationHandler: progress.handle}).
		Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: a + "/mcp", HTTPClient: &http.Client{Transport: rr}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var found mcpserver.SearchOut
	deadline := time.Now().Add(time.Minute)
	for found.Total == 0 && time.Now().Before(deadline) {
		callTool(t, cs, "search_models", map[string]any{"query": "nuclei"}, &found)
		if found.Total == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if found.Total != 1 {
		t.Fatalf("search: %+v", found)
	}
	var d mcpserver.DescribeOut
	callTool(t, cs, "describe_model", map[string]any{"model": found.Models[0].Ref}, &d)
	img := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.npy")
	data, _ := os.ReadFile(img)
	var ro mcpserver.RunOut
	if res := callTool(t, cs, "run_model", map[string]any{"model": d.Ref, "image_base64": base64.StdEncoding.EncodeToString(data)}, &ro); res.IsError || ro.Links["result_npy"] == "" {
		t.Fatalf("run_model: %s", resultText(res))
	}
	resp, err := http.Get(ro.Links["result_npy"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got, err := npy.Read(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sameTensor(t, "the scaled-out run's result", got, predictRef(t, img))
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, h := range rr.hosts {
		if rr.seen[h] == 0 {
			t.Errorf("no request reached %s: %v", h, rr.seen)
		}
	}
}
