package mcpserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/client"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
)

// MaxResultBytes bounds a result the proxy downloads.
const MaxResultBytes = 1 << 30

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	// Server is the remote zoo's base URL (its MCP endpoint is Server/mcp).
	Server string
	// Token is the API token the remote calls carry ("" = anonymous).
	Token string
	// HTTPClient makes the requests (default http.DefaultClient).
	HTTPClient *http.Client
	// OutDir is where run_model writes results when the call names no
	// output_dir ("" = a folder zoo-results beside the input image).
	OutDir string
	// MaxImageBytes bounds a local image sent to the remote (default
	// DefaultMaxImageBytes; the remote has its own limit too).
	MaxImageBytes int64
	Version       string
	Logger        *slog.Logger
}

// Proxy is an MCP server (for stdio) that forwards every tool, resource
// and prompt to a remote zoo's /mcp, and does locally what needs this
// computer's files: run_model with a path reads the image here, sends it,
// and downloads the result beside it; validate_description with a path
// validates here (with the files); upload_model with a path builds the
// package here and streams it to the API as the token's user.
type Proxy struct {
	cfg    ProxyConfig
	remote *mcp.ClientSession
	local  *mcp.Server
	api    *client.Client

	mu       sync.Mutex
	progress map[string]progressTarget // remote progress token → local call
	seq      atomic.Int64
}

type progressTarget struct {
	session *mcp.ServerSession
	token   any
}

// NewProxy connects to the remote server and mirrors its tools, resources
// and prompts. Close ends the remote session.
func NewProxy(ctx context.Context, cfg ProxyConfig) (*Proxy, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.MaxImageBytes <= 0 {
		cfg.MaxImageBytes = DefaultMaxImageBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	api, err := client.New(cfg.Server, cfg.Token)
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, api: api, progress: map[string]progressTarget{}}
	hc := *cfg.HTTPClient
	if cfg.Token != "" {
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		hc.Transport = bearerTransport{token: cfg.Token, base: base}
	}
	endpoint := strings.TrimSuffix(api.Server(), "/") + "/mcp"
	c := mcp.NewClient(&mcp.Implementation{Name: "zoo-mcp-proxy", Version: cfg.Version}, &mcp.ClientOptions{
		ProgressNotificationHandler: p.forwardProgress,
	})
	p.remote, err = c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &hc}, nil)
	if err != nil {
		return nil, zoo.E("mcp.proxy", zoo.Unavailable, err, "cannot open an MCP session with %s: %v (is it a zoo serve with /mcp, and is the token right?)", endpoint, err)
	}
	if err := p.mirror(ctx); err != nil {
		p.remote.Close()
		return nil, err
	}
	return p, nil
}

// Server is the local MCP server to serve over stdio.
func (p *Proxy) Server() *mcp.Server { return p.local }

// Close ends the remote session.
func (p *Proxy) Close() error { return p.remote.Close() }

type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

func (p *Proxy) mirror(ctx context.Context) error {
	init := p.remote.InitializeResult()
	opts := &mcp.ServerOptions{Logger: p.cfg.Logger}
	if init != nil {
		opts.Instructions = init.Instructions
	}
	p.local = mcp.NewServer(&mcp.Implementation{Name: Name, Title: "zoo bioimage model repository (via " + p.api.Server() + ")", Version: p.cfg.Version}, opts)
	for tool, err := range p.remote.Tools(ctx, nil) {
		if err != nil {
			return zoo.E("mcp.proxy", zoo.Unavailable, err, "cannot list the remote tools: %v", err)
		}
		switch tool.Name {
		case "run_model":
			p.local.AddTool(tool, p.runModel)
		case "validate_description":
			p.local.AddTool(tool, p.validate)
		case "upload_model":
			p.local.AddTool(tool, p.upload)
		default:
			p.local.AddTool(tool, p.forward)
		}
	}
	for rt, err := range p.remote.ResourceTemplates(ctx, nil) {
		if err != nil {
			return zoo.E("mcp.proxy", zoo.Unavailable, err, "cannot list the remote resources: %v", err)
		}
		p.local.AddResourceTemplate(rt, p.readResource)
	}
	for r, err := range p.remote.Resources(ctx, nil) {
		if err != nil {
			return zoo.E("mcp.proxy", zoo.Unavailable, err, "cannot list the remote resources: %v", err)
		}
		p.local.AddResource(r, p.readResource)
	}
	for pr, err := range p.remote.Prompts(ctx, nil) {
		if err != nil {
			return zoo.E("mcp.proxy", zoo.Unavailable, err, "cannot list the remote prompts: %v", err)
		}
		p.local.AddPrompt(pr, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return p.remote.GetPrompt(ctx, req.Params)
		})
	}
	return nil
}

func (p *Proxy) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	return p.remote.ReadResource(ctx, req.Params)
}

// forwardProgress passes a remote progress notification to the local call
// it belongs to.
func (p *Proxy) forwardProgress(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
	key, _ := req.Params.ProgressToken.(string)
	p.mu.Lock()
	t, ok := p.progress[key]
	p.mu.Unlock()
	if !ok || t.session == nil {
		return
	}
	fw := *req.Params
	fw.ProgressToken = t.token
	t.session.NotifyProgress(ctx, &fw)
}

// call forwards a tool call with args, passing its progress on.
func (p *Proxy) call(ctx context.Context, req *mcp.CallToolRequest, name string, args any) (*mcp.CallToolResult, error) {
	params := &mcp.CallToolParams{Name: name, Arguments: args}
	if tok := req.Params.GetProgressToken(); tok != nil {
		key := fmt.Sprintf("proxy-%d", p.seq.Add(1))
		p.mu.Lock()
		p.progress[key] = progressTarget{session: req.Session, token: tok}
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.progress, key)
			p.mu.Unlock()
		}()
		params.SetProgressToken(key)
	}
	res, err := p.remote.CallTool(ctx, params)
	if err != nil {
		// A tool error, not a protocol one: the assistant should see it.
		return errResult(fmt.Errorf("the zoo server %s did not answer (%v); check that it runs and try again", p.api.Server(), err)), nil
	}
	return res, nil
}

func (p *Proxy) forward(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return p.call(ctx, req, req.Params.Name, req.Params.Arguments)
}

// errResult is a tool error result.
func errResult(err error) *mcp.CallToolResult {
	r := &mcp.CallToolResult{}
	r.SetError(err)
	return r
}

// okResult is a result with structured content v and its JSON as text.
func okResult(v any, text string) *mcp.CallToolResult {
	b, _ := json.Marshal(v)
	if text == "" {
		text = string(b)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}, StructuredContent: json.RawMessage(b)}
}

func decodeArgs(req *mcp.CallToolRequest, v any) error {
	raw := req.Params.Arguments
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return userError("the arguments do not fit the tool's schema: %v", err)
	}
	return nil
}

func (p *Proxy) runModel(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in RunIn
	if err := decodeArgs(req, &in); err != nil {
		return errResult(err), nil
	}
	if in.Path == "" {
		if in.OutputDir != "" {
			return errResult(userError("output_dir goes with path: the result of an image sent as image_base64 is a download URL")), nil
		}
		return p.forward(ctx, req)
	}
	if in.ImageBase64 != "" {
		return errResult(userError("give either path or image_base64, not both")), nil
	}
	path, err := filepath.Abs(in.Path)
	if err != nil {
		return errResult(userError("path %q: %v", in.Path, err)), nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return errResult(userError("cannot read %s: %v; give the full path of an image file", in.Path, unwrapPath(err))), nil
	}
	if st.IsDir() || runner.ImageFormat(path) == "" {
		return errResult(userError("%s is not a .tif, .tiff, .png or .npy file; zoo reads those", in.Path)), nil
	}
	if st.Size() > p.cfg.MaxImageBytes {
		return errResult(userError("%s is %d MiB; images sent to the server are at most %d MiB: crop it, or run zoo predict on this computer", in.Path, st.Size()>>20, p.cfg.MaxImageBytes>>20)), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return errResult(userError("cannot read %s: %v", in.Path, unwrapPath(err))), nil
	}
	args := map[string]any{"model": in.Model, "image_base64": base64.StdEncoding.EncodeToString(data)}
	if in.Axes != "" {
		args["axes"] = in.Axes
	}
	res, _ := p.call(ctx, req, "run_model", args)
	if res.IsError {
		return res, nil
	}
	var out RunOut
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		return errResult(fmt.Errorf("the server's answer is not a run_model result: %v", err)), nil
	}
	format := "tif"
	if strings.EqualFold(filepath.Ext(path), ".npy") {
		format = "npy"
	}
	link := out.Links["result_"+format]
	if link == "" {
		return errResult(fmt.Errorf("the server gave no result link (job %s)", out.Job)), nil
	}
	dir := in.OutputDir
	if dir == "" {
		dir = p.cfg.OutDir
	}
	if dir == "" {
		dir = filepath.Join(filepath.Dir(path), "zoo-results")
	}
	dest := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+"."+format)
	if err := p.download(ctx, link, dest); err != nil {
		return errResult(err), nil
	}
	out.ResultPaths = []string{dest}
	b, _ = json.Marshal(out)
	res.StructuredContent = json.RawMessage(b)
	res.Content = append([]mcp.Content{&mcp.TextContent{Text: "Written: " + dest}}, res.Content...)
	return res, nil
}

// download writes the result at link to dest (through a temporary file).
func (p *Proxy) download(ctx context.Context, link, dest string) error {
	if !strings.HasPrefix(link, strings.TrimSuffix(p.api.Server(), "/")+"/") {
		return fmt.Errorf("the server's result link %q is not on %s; not following it", link, p.api.Server())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	if p.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.Token)
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot download the result from %s: %v", link, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading the result from %s: %s", link, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %v", filepath.Dir(dest), unwrapPath(err))
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".zoo-result-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %v", filepath.Dir(dest), unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, MaxResultBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading the result: %v", err)
	}
	if n > MaxResultBytes {
		return fmt.Errorf("the result is larger than %d MiB; download it yourself from %s", MaxResultBytes>>20, link)
	}
	return os.Rename(tmp.Name(), dest)
}

func (p *Proxy) validate(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in ValidateIn
	if err := decodeArgs(req, &in); err != nil {
		return errResult(err), nil
	}
	if in.Path == "" {
		return p.forward(ctx, req)
	}
	if in.YAML != "" {
		return errResult(userError("give either yaml or path, not both")), nil
	}
	res := spec.ValidatePath(in.Path, spec.Options{Files: true})
	return okResult(validateOut(res.Report), ""), nil
}

func (p *Proxy) upload(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in UploadIn
	if err := decodeArgs(req, &in); err != nil {
		return errResult(err), nil
	}
	if in.Path == "" {
		return p.forward(ctx, req)
	}
	if in.PackageBase64 != "" {
		return errResult(userError("give either path or package_base64, not both")), nil
	}
	if p.cfg.Token == "" {
		return errResult(userError("upload_model needs an API token: start zoo mcp with --token or ZOO_TOKEN")), nil
	}
	pkg, res, err := bundle.Build(filepath.Clean(in.Path), bundle.BuildOptions{})
	if err != nil {
		if res != nil && !res.Report.OK() {
			return errResult(invalidError(validateOut(res.Report))), nil
		}
		return errResult(errors.New(zoo.MessageOf(err))), nil
	}
	defer pkg.Close()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, err := bundle.Write(pw, pkg)
		pw.CloseWithError(err)
	}()
	v, err := p.api.Upload(ctx, pr, client.UploadOptions{Draft: in.Draft, ModelID: in.Model})
	pr.CloseWithError(errors.New("the upload ended"))
	<-done
	if err != nil {
		if rep := client.Report(err); rep != nil {
			return errResult(invalidError(validateOut(rep))), nil
		}
		return errResult(errors.New(zoo.MessageOf(err))), nil
	}
	return p.call(ctx, req, "model_status", map[string]any{"model": v.Ref()})
}
