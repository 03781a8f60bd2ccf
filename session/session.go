// Package session is the web pages' login: cookie sessions made from an
// API token, with CSRF protection. A Manager implements web.Session (the
// middleware asks it for the caller of requests without a bearer token and
// checks CSRF before unsafe methods) and serves POST /login and POST
// /logout.
//
// # Sessions
//
// Logging in posts an API token (as `zoo admin token` prints it) to POST
// /login. A valid, unrevoked token makes a session: a random 256-bit id
// sent as the cookie "zoo_session" (HttpOnly, SameSite=Lax, Path=/, Secure
// when the request came over TLS or with X-Forwarded-Proto: https). Only
// the id's SHA-256 is stored, in the catalog's database (Store, implemented
// by *sqlite.DB and *postgres.DB), so any replica recognises any session
// and a copy of the database logs nobody in.
//
// A session ends, whichever comes first: Options.MaxAge after login
// (default 14 days; no sliding renewal — log in again), after Options.Idle
// without a request (default 3 days), at logout, or when the API token it
// was made with is revoked (every lookup joins the token). The user's
// current role applies, not the one at login. Ended sessions are purged at
// logins, at most once per PurgeEvery, and at startup (Purge).
//
// # CSRF
//
// Every session has its own random CSRF token (CSRFToken; the pages put it
// in forms as the hidden field "csrf", scripts send it as the header
// X-CSRF-Token). CheckCSRF, which the web middleware calls for unsafe
// methods of session requests, accepts a request only if
//
//   - its Sec-Fetch-Site, when sent, is same-origin or none (cross-site and
//     same-site requests are refused),
//   - its Origin, when sent, is this server's own (Request.Host, or one of
//     Options.Origins),
//   - and it carries the session's token (header X-CSRF-Token, else the
//     form field "csrf" of a urlencoded body, or of a multipart body where
//     the field comes before any file), compared in constant time.
//
// POST /login is protected against login CSRF (a foreign site logging the
// visitor in as someone else) by the same Sec-Fetch-Site and Origin
// checks; it has no session to take a token from.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/web"
)

// CookieName is the session cookie's name.
const CookieName = "zoo_session"

// Store keeps sessions where every replica sees them (the catalog's
// database). *sqlite.DB and *postgres.DB implement it; sessiontest is its
// conformance suite. Only hashes of session ids reach it.
type Store interface {
	// CreateSession stores s, made with the API token whose hash is
	// s.TokenHash, and sets s.UserID to that token's user. NotFound if the
	// token is unknown or revoked; Conflict if s.IDHash is stored already.
	CreateSession(ctx context.Context, s *zoo.Session) error
	// SessionByHash returns session idHash with its user (current role) if
	// it expires after now and its token is not revoked; else NotFound.
	SessionByHash(ctx context.Context, idHash string, now time.Time) (*zoo.Session, *zoo.User, error)
	// TouchSession records a use of session idHash (SeenAt); NotFound if
	// it does not exist.
	TouchSession(ctx context.Context, idHash string, seen time.Time) error
	// DeleteSession deletes session idHash; a missing one is no error.
	DeleteSession(ctx context.Context, idHash string) error
	// PurgeSessions deletes the sessions expired at now, last used before
	// idleBefore, or made with a revoked token; it returns how many.
	PurgeSessions(ctx context.Context, now, idleBefore time.Time) (int64, error)
}

// Options tune a Manager. The zero value works.
type Options struct {
	// MaxAge is how long a session lasts from login (default 14 days).
	MaxAge time.Duration
	// Idle ends a session not used for this long (default 3 days).
	Idle time.Duration
	// TouchEvery is how stale a session's last use may be before a
	// request records a new one — a write per session at most this often
	// (default Idle/100, at most 5 minutes).
	TouchEvery time.Duration
	// PurgeEvery bounds how often logins purge ended sessions (default 1 h).
	PurgeEvery time.Duration
	// Origins are further origins ("https://zoo.example.org") whose
	// requests count as this site's, e.g. the public address behind a
	// proxy that rewrites Host. Request.Host is always accepted.
	Origins []string
	// LoginFailures is how many failed logins an address may make within
	// LoginWindow before further attempts from it are refused until the
	// window ends (defaults 10 and 10 minutes).
	LoginFailures int
	LoginWindow   time.Duration
	// Logger receives store errors that do not fail a request.
	Logger *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Manager implements web.Session and serves login and logout.
type Manager struct {
	store Store
	opts  Options

	mu        sync.Mutex
	lastPurge time.Time

	throttle *throttle // failed logins per address
}

var _ web.Session = (*Manager)(nil)

// New returns a Manager keeping sessions in store.
func New(store Store, opts Options) *Manager {
	if opts.MaxAge <= 0 {
		opts.MaxAge = 14 * 24 * time.Hour
	}
	if opts.Idle <= 0 {
		opts.Idle = 3 * 24 * time.Hour
	}
	if opts.TouchEvery <= 0 {
		opts.TouchEvery = min(opts.Idle/100, 5*time.Minute)
	}
	if opts.PurgeEvery <= 0 {
		opts.PurgeEvery = time.Hour
	}
	if opts.LoginFailures <= 0 {
		opts.LoginFailures = 10
	}
	if opts.LoginWindow <= 0 {
		opts.LoginWindow = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	origins := make([]string, len(opts.Origins))
	for i, o := range opts.Origins {
		origins[i] = strings.ToLower(strings.TrimSuffix(o, "/"))
	}
	opts.Origins = origins
	return &Manager{store: store, opts: opts, throttle: newThrottle(opts.LoginFailures, opts.LoginWindow)}
}

// idLen is the length of a session id in the cookie: 32 random bytes in
// unpadded base64url.
const idLen = 43

// newSecret returns 256 random bits in unpadded base64url.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashID returns the stored form of a session id.
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// parseID returns the hash of the session id in a cookie value, or false
// when the value cannot be one of ours (wrong length or alphabet), so that
// junk never reaches the store.
func parseID(value string) (string, bool) {
	if len(value) != idLen {
		return "", false
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return hashID(value), true
}

// cookieHash returns the hash of r's session cookie, if it has a
// well-formed one.
func cookieHash(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return "", false
	}
	return parseID(c.Value)
}

// lookup returns r's live session and its user, or nil when it has none
// (no cookie, unknown, expired, idle too long, token revoked). Using a
// session records the use, at most every TouchEvery; a session idle for
// too long is deleted.
func (m *Manager) lookup(r *http.Request) (*zoo.Session, *zoo.User, error) {
	const op = "session.User"
	h, ok := cookieHash(r)
	if !ok {
		return nil, nil, nil
	}
	ctx := r.Context()
	now := m.opts.Now()
	s, u, err := m.store.SessionByHash(ctx, h, now)
	if zoo.KindOf(err) == zoo.NotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, zoo.E(op, zoo.Unavailable, err, "cannot check the login session; try again")
	}
	if idle := now.Sub(s.SeenAt); idle > m.opts.Idle {
		if err := m.store.DeleteSession(ctx, h); err != nil {
			m.opts.Logger.Warn("session: cannot delete an idle session", "err", err)
		}
		return nil, nil, nil
	} else if idle > m.opts.TouchEvery {
		if err := m.store.TouchSession(ctx, h, now); err != nil && zoo.KindOf(err) != zoo.NotFound {
			m.opts.Logger.Warn("session: cannot record a session's use", "err", err)
		}
	}
	return s, u, nil
}

// User returns the user of r's session, or nil for none. A store failure
// is Unavailable (the request fails with 503 rather than running as
// anonymous).
func (m *Manager) User(r *http.Request) (*zoo.User, error) {
	_, u, err := m.lookup(r)
	return u, err
}

// CSRFToken returns the CSRF token of r's session, "" without one.
func (m *Manager) CSRFToken(r *http.Request) string {
	s, _, err := m.lookup(r)
	if err != nil || s == nil {
		return ""
	}
	return s.CSRF
}

// CheckCSRF returns nil if r may change state in its session's name (see
// the package comment), else a Forbidden error saying why.
func (m *Manager) CheckCSRF(r *http.Request) error {
	const op = "session.CheckCSRF"
	if err := m.sameOrigin(r); err != nil {
		return err
	}
	s, _, err := m.lookup(r)
	if err != nil {
		return err
	}
	if s == nil {
		return zoo.E(op, zoo.Forbidden, nil, "the login session has ended; log in again")
	}
	sent := r.Header.Get("X-CSRF-Token")
	if sent == "" {
		if sent, err = formToken(r); err != nil {
			return zoo.E(op, zoo.Forbidden, err, "cannot read the form's CSRF token; reload the page and try again")
		}
	}
	if sent == "" {
		return zoo.E(op, zoo.Forbidden, nil, "the form carries no CSRF token; reload the page and try again")
	}
	if subtle.ConstantTimeCompare([]byte(sent), []byte(s.CSRF)) != 1 {
		return zoo.E(op, zoo.Forbidden, nil, "the form's CSRF token is not this session's; reload the page and try again")
	}
	return nil
}

// sameOrigin refuses requests a browser marks as coming from another site
// (Sec-Fetch-Site) or whose Origin is not this server's.
func (m *Manager) sameOrigin(r *http.Request) error {
	const op = "session.CheckCSRF"
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return zoo.E(op, zoo.Forbidden, nil, "the request came from another site (Sec-Fetch-Site: %.20s); use this site's own pages", site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if !m.ownOrigin(r, origin) {
		return zoo.E(op, zoo.Forbidden, nil, "the request came from another site (Origin %.100q); use this site's own pages", origin)
	}
	return nil
}

// ownOrigin reports whether origin is r's own: scheme http or https (https
// only when r is known to be https) and r's Host, or one of
// Options.Origins.
func (m *Manager) ownOrigin(r *http.Request, origin string) bool {
	origin = strings.ToLower(origin)
	for _, o := range m.opts.Origins {
		if origin == o {
			return true
		}
	}
	scheme, host, ok := strings.Cut(origin, "://")
	if !ok || host == "" || !strings.EqualFold(host, r.Host) {
		return false
	}
	return scheme == "https" || scheme == "http" && !secure(r)
}

// secure reports whether r came over TLS, directly or per the proxy's
// X-Forwarded-Proto.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// Purge deletes ended sessions (expired, idle, revoked token).
func (m *Manager) Purge(ctx context.Context) (int64, error) {
	now := m.opts.Now()
	m.mu.Lock()
	m.lastPurge = now
	m.mu.Unlock()
	return m.store.PurgeSessions(ctx, now, now.Add(-m.opts.Idle))
}

// maybePurge purges when the last purge is PurgeEvery ago.
func (m *Manager) maybePurge(ctx context.Context) {
	m.mu.Lock()
	due := m.opts.Now().Sub(m.lastPurge) >= m.opts.PurgeEvery
	m.mu.Unlock()
	if !due {
		return
	}
	if _, err := m.Purge(ctx); err != nil {
		m.opts.Logger.Warn("session: cannot purge ended sessions", "err", err)
	}
}
