// Package mcpserver is zoo as a Model Context Protocol (MCP) server, on the
// official Go SDK (github.com/modelcontextprotocol/go-sdk): AI assistants,
// IDE agents and lab automation find, explain and run the models of a zoo
// instance with the same rules as its API and web pages.
//
// # Doors
//
//   - Handler is the streamable-HTTP endpoint that zoo serve mounts at
//     /mcp behind web's authentication: anonymous callers see published
//     models only; a bearer token acts as its user (a session cookie is
//     ignored: MCP clients are not browsers). It is stateless (no
//     Mcp-Session-Id), so that any replica of an instance answers any
//     request; progress notifications travel on the response stream of the
//     call they belong to.
//   - Server returns an MCP server acting as one user (nil: anonymous) for
//     any transport; zoo mcp --data serves it over stdio, with local files
//     allowed (Config.Files).
//   - Proxy (proxy.go) is zoo mcp --server: a stdio server forwarding to a
//     remote instance's /mcp, which reads and writes the local files the
//     remote cannot reach.
//
// # Tools
//
// search_models, describe_model, run_model, validate_description,
// upload_model, model_status, list_challenges, show_leaderboard (see
// Tools for their descriptions). Every tool has an input and an output
// JSON schema (inferred from the Go types below) and returns structured
// content. A failure the caller can fix (an unknown model, a bad argument,
// a missing token) is a tool result with isError set and a message saying
// what was wrong and what to do next, never a protocol error.
//
// # Resources and prompts
//
// The template zoo://models/{id}/{version}/{path} reads one file of a
// version the caller may see ("latest" for the newest published version),
// e.g. its description (the path describe_model reports) or its
// documentation; zoo://docs/tools is a page on the tools. Prompts:
// segment-nuclei and choose-model.
//
// # Limits
//
// Images sent in a call: Config.MaxImageBytes (default 16 MiB decoded);
// package zips: Config.MaxPackageBytes (default 32 MiB); one message (HTTP
// body, stdio line) holds either in base64 (MaxMessageBytes). Images read
// from a local path (Config.Files): 8 × MaxImageBytes, and the codecs' own
// limits.
// Runs: Config.MaxRunsPerClient at once per user (anonymous callers: per
// network address; stdio: per process), default 2, further runs are
// refused with a message to wait; each run waits at most Config.RunTimeout
// (default 10 min) and is cancelled past it. Search pages hold at most 25
// models. Files read as resources: at most 4 MiB.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/web"
)

// Name is the implementation name the server reports.
const Name = "zoo"

// Defaults of Config.
const (
	DefaultMaxImageBytes    = 16 << 20
	DefaultMaxPackageBytes  = 32 << 20
	DefaultMaxRunsPerClient = 2
	DefaultRunTimeout       = 10 * time.Minute
	// MaxResourceBytes bounds a file read as a resource.
	MaxResourceBytes = 4 << 20
	// MaxSearchLimit bounds the models of one search_models page.
	MaxSearchLimit = 25
)

// Challenges is what the challenge tools need (*platform.Service).
type Challenges interface {
	List(ctx context.Context, u *zoo.User) ([]*challenge.Challenge, error)
	Leaderboard(ctx context.Context, u *zoo.User, slug, phase string) (*challenge.Challenge, []challenge.Row, error)
}

// Config is what the server reaches. Repo is required; a nil Search,
// Runner or Challenges makes the tools that need them answer that this
// instance does not offer them.
type Config struct {
	Repo       *repo.Service
	Search     search.Index
	Runner     Runner
	Challenges Challenges
	// Files lets tools read and write local files (stdio on the user's own
	// machine). Off, a tool given a path refuses it.
	Files bool
	// OutDir is where run_model writes results in Files mode when the
	// call names no output_dir ("" = a folder "zoo-results" beside the
	// input image).
	OutDir string
	// PublicURL is the instance's configured public URL (ZOO_PUBLIC_URL);
	// "" builds links from the request (web.BaseURL).
	PublicURL     string
	MaxImageBytes int64
	// MaxPackageBytes bounds a package zip sent in an upload_model call
	// (a path given to zoo mcp is streamed without this limit).
	MaxPackageBytes  int64
	MaxRunsPerClient int
	RunTimeout       time.Duration
	Logger           *slog.Logger
	// Version is reported to clients (default "dev").
	Version string
}

// Server holds what every MCP server made from one Config shares: the
// per-client run counts.
type Server struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	runs map[string]int // client key → runs in progress
}

// New returns a Server over cfg, with defaults filled in.
func New(cfg Config) *Server {
	if cfg.MaxImageBytes <= 0 {
		cfg.MaxImageBytes = DefaultMaxImageBytes
	}
	if cfg.MaxPackageBytes <= 0 {
		cfg.MaxPackageBytes = DefaultMaxPackageBytes
	}
	if cfg.MaxRunsPerClient <= 0 {
		cfg.MaxRunsPerClient = DefaultMaxRunsPerClient
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = DefaultRunTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	return &Server{cfg: cfg, log: cfg.Logger, runs: map[string]int{}}
}

// Server returns an MCP server whose tools act as u (nil: anonymous), for
// stdio or in-memory transports.
func (s *Server) Server(u *zoo.User) *mcp.Server {
	return s.newMCP(&session{s: s, user: u, client: "local"})
}

// MaxMessageBytes bounds one protocol message (an HTTP request body, a
// stdio line): room for an image or a package in base64 and the call.
func (s *Server) MaxMessageBytes() int64 {
	return max(s.cfg.MaxImageBytes, s.cfg.MaxPackageBytes)*4/3 + 1<<20
}

// Headers set by Handler for the tools (any value a client sends is
// replaced).
const (
	headerBase   = "X-Zoo-Mcp-Base"
	headerClient = "X-Zoo-Mcp-Client"
)

// Handler is the streamable-HTTP endpoint (mount it for POST, GET and
// DELETE /mcp behind web's authentication: web.Route{Auth: true}). The
// caller is web.UserOf(r) when the request carries a bearer token.
func (s *Server) Handler() http.Handler {
	srv := s.newMCP(&session{s: s, http: true})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless: true,
		// The API has no such check either: /mcp answers anonymous
		// callers what /api/v1 answers them, and an instance behind a
		// reverse proxy on the same machine sees its public Host.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        s.MaxMessageBytes(),
		Logger:                     s.log,
	})
	asUser := auth.RequireBearerToken(func(ctx context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		u := web.UserOf(r)
		if u == nil {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: strconv.FormatInt(u.ID, 10), Expiration: time.Now().Add(time.Hour),
			Extra: map[string]any{"user": u}}, nil
	}, nil)(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(headerBase, web.BaseURL(r, s.cfg.PublicURL))
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		r.Header.Set(headerClient, "addr:"+host)
		if web.UserOf(r) != nil && r.Header.Get("Authorization") != "" {
			asUser.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// session is the identity side of one MCP server: a fixed user (stdio), or
// the caller of each HTTP request.
type session struct {
	s      *Server
	user   *zoo.User
	client string
	http   bool
}

// caller is the user a call acts as.
func (ss *session) caller(req *mcp.CallToolRequest) *zoo.User {
	if !ss.http {
		return ss.user
	}
	if req != nil && req.Extra != nil && req.Extra.TokenInfo != nil {
		if u, ok := req.Extra.TokenInfo.Extra["user"].(*zoo.User); ok {
			return u
		}
	}
	return nil
}

// readerOf is caller for resource reads.
func (ss *session) readerOf(extra *mcp.RequestExtra) *zoo.User {
	if !ss.http {
		return ss.user
	}
	if extra != nil && extra.TokenInfo != nil {
		if u, ok := extra.TokenInfo.Extra["user"].(*zoo.User); ok {
			return u
		}
	}
	return nil
}

// clientKey names the client whose runs are counted together.
func (ss *session) clientKey(req *mcp.CallToolRequest) string {
	if u := ss.caller(req); u != nil {
		return "user:" + strconv.FormatInt(u.ID, 10)
	}
	if ss.http && req != nil && req.Extra != nil {
		if c := req.Extra.Header.Get(headerClient); c != "" {
			return c
		}
	}
	return ss.client
}

// baseURL is the instance's URL for links ("" over stdio: no links).
func (ss *session) baseURL(req *mcp.CallToolRequest) string {
	if ss.http && req != nil && req.Extra != nil {
		return req.Extra.Header.Get(headerBase)
	}
	return ss.s.cfg.PublicURL
}

// acquireRun counts a run of client, refusing one past the limit.
func (s *Server) acquireRun(client string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs[client] >= s.cfg.MaxRunsPerClient {
		return nil, zoo.E("mcp.run_model", zoo.Conflict, nil,
			"you already have %d runs in progress (the limit per client); wait for one to finish, then call run_model again", s.runs[client])
	}
	s.runs[client]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.runs[client]--; s.runs[client] <= 0 {
			delete(s.runs, client)
		}
	}, nil
}

// toolError turns err into the error a tool returns: the user-safe message
// of a *zoo.Error with a hint of what to do next by its kind; internal
// errors are logged and reported without their cause.
func (s *Server) toolError(tool string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s took too long and was stopped; try a smaller image or try again later", tool)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s was cancelled", tool)
	}
	var ze *zoo.Error
	if !errors.As(err, &ze) {
		s.log.Error("mcp tool failed", "tool", tool, "err", err)
		return fmt.Errorf("%s failed on the server (an internal error, logged there); try again later", tool)
	}
	msg := zoo.MessageOf(err)
	switch ze.Kind {
	case zoo.Internal:
		s.log.Error("mcp tool failed", "tool", tool, "err", err)
		return fmt.Errorf("%s failed on the server (an internal error, logged there); try again later", tool)
	case zoo.NotFound:
		if strings.Contains(tool, "challenge") || strings.Contains(tool, "leaderboard") {
			return fmt.Errorf("%s; list_challenges lists the challenges you may see", msg)
		}
		return fmt.Errorf("%s; find models with search_models (drafts are visible only with their uploader's or a reviewer's token)", msg)
	case zoo.Unauthorized:
		return fmt.Errorf("%s; configure an API token for this MCP server (Authorization: Bearer TOKEN over HTTP, --token or ZOO_TOKEN for zoo mcp; tokens come from zoo admin token or the instance's administrator)", msg)
	case zoo.Forbidden:
		return fmt.Errorf("%s (your token does not allow this)", msg)
	case zoo.Unavailable:
		return fmt.Errorf("%s; try again in a minute", msg)
	}
	return errors.New(msg)
}

// userError is an error in the caller's words, for tool results.
func userError(format string, args ...any) error {
	return zoo.E("mcp", zoo.Invalid, nil, format, args...)
}

// tool wraps a handler so that every error it returns reaches the client
// as toolError words (a *zoo.Error's message without its operation, with
// a hint; internal errors logged and hidden).
func tool[In, Out any](s *Server, name string, h mcp.ToolHandlerFor[In, Out]) mcp.ToolHandlerFor[In, Out] {
	return func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		res, out, err := h(ctx, req, in)
		var ze *zoo.Error
		if err != nil && errors.As(err, &ze) {
			err = s.toolError(name, err)
		}
		return res, out, err
	}
}
