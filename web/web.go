// Package web is the HTTP layer of the zoo repository: the JSON API under
// /api/v1, file and package downloads, the OpenAPI description and the
// health probes. It translates HTTP to calls of repo.Service and back and
// holds no rules of its own about who may do what: repo decides, web maps
// the outcome (zoo.Kind) to a status code in one table (problem.go).
//
// # Routes
//
//	POST /api/v1/models?draft=1&model=ID           upload a package zip (body) → 201 version
//	GET  /api/v1/models                            latest published version of every model
//	GET  /api/v1/models/{id}                       latest published version
//	GET  /api/v1/models/{id}/versions              the versions the caller may see, newest first
//	GET  /api/v1/models/{id}/versions/{n}          one version
//	POST /api/v1/models/{id}/versions/{n}/review   {"action": "accept"|"request-changes"|"reject", "comment"}
//	POST /api/v1/models/{id}/versions/{n}/submit   draft → submitted
//	POST /api/v1/models/{id}/versions/{n}/retire   {"reason"}
//	POST /api/v1/models/{id}/versions/{n}/withdraw {"reason"} (optional): its uploader takes back an unpublished version
//	GET  /api/v1/review-queue                      submitted versions (reviewers)
//	GET  /files/{id}/{n}/{path...}                 one file of a version ({n} may be "latest"); also HEAD
//	GET  /files/{id}/{path...}                     one file of the latest published version (see server.file); also HEAD
//	GET  /packages/{id}[/{n}]                      the package zip as uploaded; also HEAD
//	GET  /api/v1/models/{id}/versions/{n}/converted.zip  the package with zoo's converted weights; also HEAD
//	GET  /api/openapi.json                         OpenAPI 3.0 description of all of the above
//	GET  /healthz, /readyz                         process up; catalog and blob store reachable
//	GET, POST /api/v1/tokens, DELETE /api/v1/tokens/{name}  the caller's API tokens (tokens.go)
//
// # Authentication
//
// A request carries `Authorization: Bearer <token>`, a session cookie, or
// nothing (anonymous). A token is looked up by its SHA-256 (HashToken); an
// unknown or revoked token is refused with 401 even where anonymous access
// would do, so that a client learns its token is bad. Bearer tokens are
// never sent by browsers on their own, so token requests need no CSRF
// protection.
//
// People using the web pages log in with a session instead (package
// session, plugged in through Options.Session): POST /login exchanges an
// API token for the cookie "zoo_session" (HttpOnly, SameSite=Lax), which
// then stands for the token's user until it expires, sits idle too long,
// the user logs out, or the token is revoked. A request with a bearer
// token ignores the cookie. A session cookie that is missing, unknown or
// ended makes the request anonymous (not 401: the page asks to log in).
// Because browsers send cookies on their own, every unsafe method (POST,
// PUT, PATCH, DELETE) of a session request must pass Session.CheckCSRF
// before it reaches a handler: the session's CSRF token (form field "csrf"
// or header X-CSRF-Token) and, when sent, a same-origin Origin and
// Sec-Fetch-Site; otherwise 403.
//
// # Errors
//
// Every error is an RFC 9457 problem document (application/problem+json)
// with type, title, status and a detail a person can act on
// (zoo.MessageOf); internal errors are logged with a request id and the
// detail only says so. An invalid package is 422 with the validation report
// (same shape as `zoo validate --json`) in "report".
//
// # Download counting
//
// A download of a published or retired version counts once (per request)
// when all of these hold:
//
//   - the request is a GET (HEAD never counts) without ?silent=1;
//   - it is the whole package (/packages/…), or a file that repo.Counts
//     says counts: a weights file (.onnx, .pt, .h5, … or "weights" in its
//     name) — descriptions, covers, test tensors and documentation do not;
//   - the response is whole: a 200, or a 206 whose (first) range starts at
//     byte 0 (a resumed download's later ranges do not count again), and
//     every byte of it was sent (an aborted transfer does not count); a 304
//     Not Modified does not count.
//
// Drafts and versions under review never count. Published files are sent
// with Cache-Control: immutable, so a client (or a cache in front of the
// server) that already holds them does not ask, and is not counted, again. The counts are reported
// per version ("downloads" of a version) and summed per model ("downloads"
// in the model list).
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// Options configure the handler. The zero value works.
type Options struct {
	// Logger receives one line per request and every internal error
	// (default slog.Default()).
	Logger *slog.Logger
	// MaxUpload bounds an upload's body in bytes (default 8 GiB). A body
	// announced larger is refused before it is read; repo.Config.MaxUpload
	// is checked too, and the smaller limit wins.
	MaxUpload int64
	// MaxJSON bounds the JSON body of the other POST requests (default 1 MiB).
	MaxJSON int64
	// Users returns the user of a bearer token (the secret as sent). The
	// default looks up HashToken(token) with svc.Catalog().UserByToken. A
	// NotFound error means an unknown or revoked token (401).
	Users func(ctx context.Context, token string) (*zoo.User, error)
	// Session, if set, identifies requests without a bearer token (the web
	// pages' cookie sessions). Nil: such requests are anonymous.
	Session Session
	// Ready reports whether the server can serve (GET /readyz), within the
	// 5 s the probe allows. The default asks the catalog for a user that
	// does not exist (an answer, even NotFound, means it is reachable) and,
	// when the blob store has a Ping method (s3.Store, disk.Store), pings
	// it: a replica that cannot read blobs serves no downloads, collection
	// files or tests and must leave the load balancer.
	Ready func(ctx context.Context) error
	// RetryAfter is the Retry-After of 503 responses (default 10 s).
	RetryAfter time.Duration
	// Body bounds how slowly request bodies may arrive (see BodyLimits;
	// the zero value means its defaults).
	Body BodyLimits
	// Routes are mounted beside the core routes, under the same middleware
	// (request ids, logging, panic recovery, security headers, and the
	// caller resolved when Auth is set). Feature packages (pages, search,
	// OAI-PMH, inference, challenges) provide them; cmd/zoo composes. A
	// route under /api/ must carry its OpenAPI operation (Doc), which the
	// served /api/openapi.json then includes; New panics otherwise.
	Routes []Route
	// Fallback, if set, sees every request no route matches before it is
	// answered 404 or 405, and returns whether it answered it. It serves
	// path shapes a ServeMux pattern cannot hold beside the core routes
	// (e.g. the Hugging Face Hub's root /{repo}/resolve/{rev}/{path...},
	// which clashes with /files/{id}/{n}/{path...}). The caller is not
	// resolved for it.
	Fallback func(w http.ResponseWriter, r *http.Request) bool
	// TrustedProxies are the reverse proxies (addresses and prefixes,
	// ParseTrustedProxies) whose X-Forwarded-For ClientAddr believes.
	// Empty (the default): the connection's peer is the client and the
	// header is ignored — behind a proxy every client then shares its
	// address for per-client limits.
	TrustedProxies []netip.Prefix
	// Redirect, if its Presigner is set, sends large public downloads to
	// presigned URLs of the blob store instead of through this process
	// (files.go, redirect).
	Redirect Redirect
}

// Route is one route mounted through Options.Routes.
type Route struct {
	// Pattern is a ServeMux pattern with its method, e.g.
	// "GET /api/v1/search". It must not clash with another route.
	Pattern string
	// Auth resolves the caller (bearer token or session; UserOf). An
	// unknown token is refused with 401 before the handler runs.
	Auth    bool
	Handler http.Handler
	// Doc is the OpenAPI 3.0 operation object of a route under /api/
	// (JSON, may use "$ref": "#/components/responses/…" of the core
	// document); nil elsewhere.
	Doc json.RawMessage
}

// Session is the seam for cookie sessions of the web pages (package
// session implements it). The middleware calls User for requests without a bearer
// token, and for a request it identifies by session calls CheckCSRF before
// any unsafe method (POST, PUT, PATCH, DELETE) reaches a handler.
type Session interface {
	// User returns the session's user, or nil for no (or an expired) session.
	User(r *http.Request) (*zoo.User, error)
	// CheckCSRF returns an error unless r carries the session's CSRF token
	// (e.g. in a header or form field). Any error refuses the request with
	// 403 and a generic "reload the page" message, except a *zoo.Error of
	// another kind than Forbidden (e.g. Unavailable), which is passed on.
	CheckCSRF(r *http.Request) error
}

// HashToken returns the hex SHA-256 of a token secret: the form in which
// tokens are stored (zoo.Token.Hash) and looked up.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// TokenPrefix starts every token NewToken makes, so that leaked tokens are
// easy to recognise (secret scanners) and to tell from other credentials.
const TokenPrefix = "zoo_"

// NewToken returns a new random token secret: "zoo_" and 256 random bits
// in unpadded base64url. Store only HashToken(secret).
func NewToken() (secret string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// server holds what the handlers share.
type server struct {
	svc  *repo.Service
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// openAPIDoc is the served document: the core one with the operations
	// of Options.Routes merged in.
	openAPIDoc []byte
}

// New returns the HTTP handler of the repository.
func New(svc *repo.Service, opts Options) http.Handler {
	return newServer(svc, opts)
}

func newServer(svc *repo.Service, opts Options) *server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = 8 << 30
	}
	if opts.MaxJSON <= 0 {
		opts.MaxJSON = 1 << 20
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 10 * time.Second
	}
	if opts.Users == nil {
		cat := svc.Catalog()
		opts.Users = func(ctx context.Context, token string) (*zoo.User, error) {
			return cat.UserByToken(ctx, HashToken(token))
		}
	}
	if opts.Ready == nil {
		cat := svc.Catalog()
		pinger, _ := svc.Blobs().(interface{ Ping(context.Context) error })
		opts.Ready = func(ctx context.Context) error {
			_, err := cat.UserByID(ctx, -1)
			if err != nil && zoo.KindOf(err) != zoo.NotFound {
				return zoo.E("web.readyz", zoo.Unavailable, err, "the catalog is not reachable: %s", zoo.MessageOf(err))
			}
			if pinger != nil {
				if err := pinger.Ping(ctx); err != nil {
					return zoo.E("web.readyz", zoo.Unavailable, err, "the blob store is not reachable: %s", zoo.MessageOf(err))
				}
			}
			return nil
		}
	}
	s := &server{svc: svc, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.opts.Routes = append(s.tokenRoutes(), opts.Routes...) // tokens.go
	opts = s.opts
	for _, rt := range s.allRoutes() {
		h := rt.handler
		if rt.auth {
			h = s.authenticate(h)
		}
		s.mux.Handle(rt.pattern, h)
	}
	doc, err := mergeOpenAPI(openAPIDoc, opts.Routes)
	if err != nil {
		panic("web.New: " + err.Error())
	}
	s.openAPIDoc = doc
	s.mux.HandleFunc("/", s.notFound)
	return s
}

// ServeHTTP runs the middleware chain: request id, logging and metrics,
// panic recovery, security headers, body deadlines, then the routes.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.logRequests(s.recoverPanics(securityHeaders(s.limitBodyRate(s.mux)))).ServeHTTP(w, r)
}

// route is one registered pattern. The route table is the single source of
// the mux's patterns (and the OpenAPI test checks it against the document).
type route struct {
	pattern string // ServeMux pattern, with method
	auth    bool   // resolve the caller (bearer token or session)
	handler http.Handler
}

// allRoutes is the core routes and Options.Routes.
func (s *server) allRoutes() []route {
	all := s.routes()
	for _, rt := range s.opts.Routes {
		all = append(all, route{rt.Pattern, rt.Auth, rt.Handler})
	}
	return all
}

func (s *server) routes() []route {
	api := func(pattern string, h http.HandlerFunc) route { return route{pattern, true, h} }
	open := func(pattern string, h http.HandlerFunc) route { return route{pattern, false, h} }
	return []route{
		api("POST /api/v1/models", s.upload),
		api("GET /api/v1/models", s.listModels),
		api("GET /api/v1/models/{id}", s.getLatest),
		api("GET /api/v1/models/{id}/versions", s.listVersions),
		api("GET /api/v1/models/{id}/versions/{n}", s.getVersion),
		api("POST /api/v1/models/{id}/versions/{n}/review", s.review),
		api("POST /api/v1/models/{id}/versions/{n}/submit", s.submit),
		api("POST /api/v1/models/{id}/versions/{n}/retire", s.retire),
		api("POST /api/v1/models/{id}/versions/{n}/withdraw", s.withdraw),
		api("GET /api/v1/review-queue", s.reviewQueue),
		api("GET /files/{id}/{n}/{path...}", s.file),
		api("GET /files/{id}/{file}", s.file), // deeper paths reach {n}/{path...}
		api("GET /packages/{id}", s.pkg),
		api("GET /packages/{id}/{n}", s.pkg),
		api("GET /api/v1/models/{id}/versions/{n}/converted.zip", s.convertedPkg),
		open("GET /api/openapi.json", s.openAPI),
		open("GET /healthz", s.healthz),
		open("GET /readyz", s.readyz),
	}
}

// notFound answers requests no route matches: 405 with Allow when the path
// exists under other methods, else 404. (The catch-all "/" pattern would
// otherwise hide the mux's own 405s.)
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.opts.Fallback != nil && s.opts.Fallback(w, r) {
		return
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" && p != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.problem(w, r, problemOf(http.StatusMethodNotAllowed, "Method not allowed",
			r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, " or ")))
		return
	}
	s.fail(w, r, zoo.E("web", zoo.NotFound, nil, "no such page or API route: %s (the API is described at /api/openapi.json)", r.URL.Path))
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.opts.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		msg := zoo.MessageOf(err)
		if zoo.KindOf(err) == zoo.Internal {
			msg = "a store is not reachable"
		}
		s.fail(w, r, zoo.E("web.readyz", zoo.Unavailable, err, "not ready: %s", msg))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
