package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyUser
	keyLog
	keyServer
	keyClient
)

// requestID returns the id of the request (also sent as X-Request-Id).
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// userOf returns the caller, nil for anonymous.
func userOf(r *http.Request) *zoo.User {
	u, _ := r.Context().Value(keyUser).(*zoo.User)
	return u
}

// UserOf returns the caller of a request that went through a route with
// Auth set (Options.Routes): nil for anonymous.
func UserOf(r *http.Request) *zoo.User { return userOf(r) }

// Fail writes err as a problem document (see the package comment), with
// the status its zoo.Kind maps to; internal errors are logged with the
// request id. Use it in handlers mounted through Options.Routes.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	s, _ := r.Context().Value(keyServer).(*server)
	if s == nil {
		s = &server{log: slog.Default(), opts: Options{RetryAfter: 10 * time.Second}}
	}
	s.fail(w, r, err)
}

// WriteJSON writes v as a JSON response with status (HTML not escaped).
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// LogUser records the caller for the request's log line (routes that
// identify callers themselves, e.g. a login form).
func LogUser(r *http.Request, u *zoo.User) {
	if rl, ok := r.Context().Value(keyLog).(*reqLog); ok && u != nil {
		rl.user = u.ID
	}
}

// reqLog collects what handlers learn for the request's log line.
type reqLog struct{ user int64 }

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's fast path (sendfile) for downloads.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wroteHeader reports whether the response has started.
func (w *statusWriter) wroteHeader() bool { return w.status != 0 }

// logRequests gives each request an id and logs one line when it ends.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		rl := &reqLog{}
		ctx := context.WithValue(context.WithValue(r.Context(), keyRequestID, id), keyLog, rl)
		ctx = context.WithValue(ctx, keyServer, s)
		r = withClient(r.WithContext(ctx), s.opts.TrustedProxies)
		sw := &statusWriter{ResponseWriter: w}
		done := metrics.RequestStarted()
		r2 := r // with its context and client address
		defer func() {
			// r2.Pattern is set by the ServeMux (on this request value)
			// once it has matched a route; a panic leaves it as it was.
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			done()
			metrics.ObserveRequest(r2.Pattern, r.Method, status, time.Since(start))
		}()
		next.ServeHTTP(sw, r2)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)), slog.String("request_id", id),
			slog.String("remote", r.RemoteAddr),
		}
		if c := ClientAddr(r); len(s.opts.TrustedProxies) > 0 {
			attrs = append(attrs, slog.String("client", c))
		}
		if r.URL.RawQuery != "" {
			attrs = append(attrs, slog.String("query", r.URL.RawQuery))
		}
		if rl.user != 0 {
			attrs = append(attrs, slog.Int64("user", rl.user))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// validRequestID accepts a client's X-Request-Id if it is short and plain.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// recoverPanics turns a handler's panic into a logged 500 problem (or, if
// the response had started, an aborted connection).
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw, _ := w.(*statusWriter)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic", "request_id", requestID(r.Context()), "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw != nil && sw.wroteHeader() {
				panic(http.ErrAbortHandler) // too late for a problem document
			}
			s.fail(w, r, zoo.E("web", zoo.Internal, fmt.Errorf("panic: %v", v), ""))
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries. API responses
// are data, never documents: nothing may frame, script or sniff them.
// (Downloads tighten the policy further with a sandbox; the web pages will
// set their own Content-Security-Policy.)
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// authenticate resolves the caller: a bearer token, else a session (with
// CSRF checked on unsafe methods), else anonymous.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.caller(r)
		if err != nil {
			if zoo.KindOf(err) == zoo.Unauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="zoo", error="invalid_token"`)
			}
			s.fail(w, r, err)
			return
		}
		if u != nil {
			if rl, ok := r.Context().Value(keyLog).(*reqLog); ok {
				rl.user = u.ID
			}
			r = r.WithContext(context.WithValue(r.Context(), keyUser, u))
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) caller(r *http.Request) (*zoo.User, error) {
	const op = "web.authenticate"
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if s.opts.Session == nil {
			return nil, nil
		}
		u, err := s.opts.Session.User(r)
		if err != nil || u == nil {
			return nil, err
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := s.opts.Session.CheckCSRF(r); err != nil {
				var ze *zoo.Error
				if errors.As(err, &ze) && ze.Kind != zoo.Forbidden {
					return nil, err // e.g. the session store is unavailable
				}
				return nil, zoo.E(op, zoo.Forbidden, err, "the form has expired or did not come from this site; reload the page and try again")
			}
		}
		return u, nil
	}
	scheme, token, ok := strings.Cut(auth, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, zoo.E(op, zoo.Unauthorized, nil, "send the API token as 'Authorization: Bearer <token>'")
	}
	u, err := s.opts.Users(r.Context(), token)
	if zoo.KindOf(err) == zoo.NotFound || (err == nil && u == nil) {
		return nil, zoo.E(op, zoo.Unauthorized, err, "the API token is unknown or revoked; ask an administrator for a new one (zoo admin token)")
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// limitBody bounds r's body to n bytes; reading more fails with
// *http.MaxBytesError (413). A body announced larger is refused at once.
func limitBody(w http.ResponseWriter, r *http.Request, n int64) error {
	if r.ContentLength > n {
		return &http.MaxBytesError{Limit: n}
	}
	r.Body = http.MaxBytesReader(w, r.Body, n)
	return nil
}
