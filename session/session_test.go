package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/session"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/web"
)

var ctx = context.Background()

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is the repository's web handler on SQLite with sessions, and a
// reviewer and a contributor with a token each.
type rig struct {
	t        *testing.T
	db       *sqlite.DB
	m        *session.Manager
	clock    *clock
	srv      *httptest.Server
	tokens   map[string]string // user name → token secret
	hostname string
}

func newRig(t *testing.T, opts session.Options) *rig {
	t.Helper()
	return newRigBehind(t, opts, nil)
}

// newRigBehind is newRig with web.Options.TrustedProxies.
func newRigBehind(t *testing.T, opts session.Options, trusted []netip.Prefix) *rig {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().UTC()}
	opts.Now = c.Now
	m := session.New(db, opts)
	svc := repo.New(db, blobs, nil, repo.Config{TempDir: t.TempDir()})
	h := web.New(svc, web.Options{Session: m, Routes: m.Routes(), Logger: slog.New(slog.DiscardHandler), TrustedProxies: trusted})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r := &rig{t: t, db: db, m: m, clock: c, srv: srv, tokens: map[string]string{}}
	r.hostname = strings.TrimPrefix(srv.URL, "http://")
	for name, role := range map[string]zoo.Role{"rita": zoo.RoleReviewer, "carl": zoo.RoleContributor} {
		u, err := db.CreateUser(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		secret := web.NewToken()
		if _, err := db.CreateToken(ctx, u.ID, web.HashToken(secret)); err != nil {
			t.Fatal(err)
		}
		r.tokens[name] = secret
	}
	return r
}

// do sends a request without following redirects; hdr are header pairs.
func (r *rig) do(method, path, contentType string, body io.Reader, cookie *http.Cookie, hdr ...string) *http.Response {
	r.t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// form posts a urlencoded form.
func (r *rig) form(path string, f url.Values, cookie *http.Cookie, hdr ...string) *http.Response {
	r.t.Helper()
	return r.do(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()), cookie, hdr...)
}

// login logs name in and returns the session cookie.
func (r *rig) login(name string) *http.Cookie {
	r.t.Helper()
	resp := r.form("/login", url.Values{"token": {r.tokens[name]}, "next": {"/models"}}, nil,
		"Origin", r.srv.URL, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/models" {
		r.t.Fatalf("login: %s to %q, want 303 to /models", resp.Status, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == session.CookieName {
			return c
		}
	}
	r.t.Fatal("login set no session cookie")
	return nil
}

// csrf returns the CSRF token of the session of cookie.
func (r *rig) csrf(cookie *http.Cookie) string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	return r.m.CSRFToken(req)
}

// queueStatus is the status of GET /api/v1/review-queue: 200 for a
// reviewer, 401 for anonymous.
func (r *rig) queueStatus(cookie *http.Cookie) int {
	r.t.Helper()
	return r.do(http.MethodGet, "/api/v1/review-queue", "", nil, cookie).StatusCode
}

func packageZip(t *testing.T) []byte {
	t.Helper()
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Login → cookie → API calls as the session's user; unsafe calls need the
// CSRF token and this site's origin.
func TestLoginThenAPI(t *testing.T) {
	r := newRig(t, session.Options{})
	if got := r.queueStatus(nil); got != http.StatusUnauthorized {
		t.Fatalf("anonymous review queue: %d, want 401", got)
	}
	rita := r.login("rita")
	if got := r.queueStatus(rita); got != http.StatusOK {
		t.Fatalf("review queue with rita's session: %d, want 200", got)
	}

	carl := r.login("carl")
	token := r.csrf(carl)
	if len(token) < 40 || token == r.csrf(rita) {
		t.Fatalf("CSRF tokens %q and %q: want long and per session", token, r.csrf(rita))
	}
	data := packageZip(t)
	upload := func(hdr ...string) *http.Response {
		return r.do(http.MethodPost, "/api/v1/models", "application/zip", bytes.NewReader(data), carl, hdr...)
	}
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"no CSRF token", nil},
		{"a wrong CSRF token", []string{"X-CSRF-Token", r.csrf(rita)}},
		{"a foreign Origin", []string{"X-CSRF-Token", token, "Origin", "https://evil.example"}},
		{"Sec-Fetch-Site cross-site", []string{"X-CSRF-Token", token, "Sec-Fetch-Site", "cross-site"}},
		{"Origin null", []string{"X-CSRF-Token", token, "Origin", "null"}},
	} {
		if resp := upload(tc.hdr...); resp.StatusCode != http.StatusForbidden {
			t.Errorf("session upload with %s: %s, want 403", tc.name, resp.Status)
		}
	}
	if vs, _ := r.db.ListVersions(ctx, zoo.VersionFilter{}); len(vs) != 0 {
		t.Fatalf("refused uploads stored %d versions", len(vs))
	}
	resp := upload("X-CSRF-Token", token, "Origin", r.srv.URL, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("session upload with the CSRF token: %s %s", resp.Status, b)
	}
	var v zoo.Version
	json.NewDecoder(resp.Body).Decode(&v)
	carlUser, _ := r.db.UserByName(ctx, "carl")
	if v.UploaderID != carlUser.ID || v.State != zoo.StateSubmitted {
		t.Errorf("uploaded %+v, want carl's submitted version", v)
	}

	// A form post carries the token in the field "csrf": retire needs
	// JSON, so use the API's submit on carl's (already submitted)
	// version: it passes the CSRF check and fails in repo (409).
	path := "/api/v1/models/" + v.ModelID + "/versions/1/submit"
	if resp := r.form(path, url.Values{"csrf": {"wrong"}}, carl); resp.StatusCode != http.StatusForbidden {
		t.Errorf("form with a wrong csrf field: %s, want 403", resp.Status)
	}
	if resp := r.form(path, url.Values{"csrf": {token}}, carl); resp.StatusCode == http.StatusForbidden {
		t.Errorf("form with the csrf field: 403, want it past the CSRF check")
	}
	// Bearer tokens need no CSRF token.
	resp = r.do(http.MethodPost, path, "application/json", strings.NewReader("{}"), nil, "Authorization", "Bearer "+r.tokens["carl"])
	if resp.StatusCode == http.StatusForbidden {
		t.Errorf("bearer request: 403")
	}
}

func TestCookieAttributes(t *testing.T) {
	r := newRig(t, session.Options{})
	c := r.login("rita")
	resp := r.form("/login", url.Values{"token": {r.tokens["rita"]}}, nil)
	raw := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"zoo_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=1209600"} {
		if !strings.Contains(raw, want) {
			t.Errorf("Set-Cookie %q lacks %q", raw, want)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("Set-Cookie %q is Secure on plain http", raw)
	}
	if len(c.Value) != 43 || strings.Contains(c.Value, r.tokens["rita"][4:10]) {
		t.Errorf("cookie value %q: want a fresh 256-bit id", c.Value)
	}
	resp = r.form("/login", url.Values{"token": {r.tokens["rita"]}}, nil, "X-Forwarded-Proto", "https")
	if raw := resp.Header.Get("Set-Cookie"); !strings.Contains(raw, "; Secure") {
		t.Errorf("Set-Cookie behind an https proxy %q is not Secure", raw)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login Cache-Control %q", cc)
	}
}

func TestLoginFailures(t *testing.T) {
	r := newRig(t, session.Options{})
	for _, tc := range []struct {
		name, token, next string
		hdr               []string
		status            int
		location          string
	}{
		{"unknown token", "zoo_nope", "/models/x", nil, 303, "/login?error=unknown+or+revoked+API+token%3B+ask+an+administrator+for+a+new+one&next=%2Fmodels%2Fx"},
		{"no token", "", "/a?b=c", nil, 303, "/login?error=enter+your+API+token&next=%2Fa%3Fb%3Dc"},
		{"foreign next", "rita", "https://evil.example/", nil, 303, "/"},
		{"scheme-relative next", "rita", "//evil.example/x", nil, 303, "/"},
		{"backslash next", "rita", "/\\evil.example", nil, 303, "/"},
		{"cross-site post", "rita", "/", []string{"Sec-Fetch-Site", "cross-site"}, 403, ""},
		{"same-site post", "rita", "/", []string{"Sec-Fetch-Site", "same-site"}, 403, ""},
		{"foreign Origin", "rita", "/", []string{"Origin", "http://evil.example"}, 403, ""},
		{"https Origin of this host", "rita", "/", []string{"Origin", "https://" + r.hostname}, 303, "/"},
	} {
		token := tc.token
		if s, ok := r.tokens[token]; ok {
			token = s
		}
		resp := r.form("/login", url.Values{"token": {token}, "next": {tc.next}}, nil, tc.hdr...)
		if resp.StatusCode != tc.status || tc.location != "" && resp.Header.Get("Location") != tc.location {
			t.Errorf("%s: %s to %q, want %d to %q", tc.name, resp.Status, resp.Header.Get("Location"), tc.status, tc.location)
		}
		if tc.status != 303 || strings.HasPrefix(tc.location, "/login") {
			if len(resp.Cookies()) != 0 {
				t.Errorf("%s: set a cookie", tc.name)
			}
		}
	}
	big := r.form("/login", url.Values{"token": {strings.Repeat("x", 10000)}}, nil)
	if big.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 10 kB login form: %s, want 413", big.Status)
	}
}

func TestLogout(t *testing.T) {
	r := newRig(t, session.Options{})
	c := r.login("rita")
	other := r.login("rita") // a second browser
	if resp := r.form("/logout", url.Values{}, c); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without csrf: %s, want 403", resp.Status)
	}
	if resp := r.form("/logout", url.Values{"csrf": {r.csrf(c)}}, c, "Origin", "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout from a foreign origin: %s, want 403", resp.Status)
	}
	if r.queueStatus(c) != http.StatusOK {
		t.Fatal("a refused logout ended the session")
	}
	resp := r.form("/logout", url.Values{"csrf": {r.csrf(c)}}, c)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("logout: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if raw := resp.Header.Get("Set-Cookie"); !strings.Contains(raw, "zoo_session=;") || !strings.Contains(raw, "Max-Age=0") {
		t.Errorf("logout Set-Cookie %q does not clear the cookie", raw)
	}
	if got := r.queueStatus(c); got != http.StatusUnauthorized {
		t.Errorf("after logout the old cookie still works: %d", got)
	}
	if got := r.queueStatus(other); got != http.StatusOK {
		t.Errorf("logout ended the other browser's session: %d", got)
	}
	// Without a session, logout just clears the cookie.
	if resp := r.form("/logout", url.Values{}, c); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout of an ended session: %s, want 303", resp.Status)
	}
}

func TestRevokedTokenEndsSessions(t *testing.T) {
	r := newRig(t, session.Options{})
	c := r.login("rita")
	if err := r.db.RevokeToken(ctx, web.HashToken(r.tokens["rita"])); err != nil {
		t.Fatal(err)
	}
	if got := r.queueStatus(c); got != http.StatusUnauthorized {
		t.Errorf("session of a revoked token: %d, want 401 (anonymous)", got)
	}
	if r.csrf(c) != "" {
		t.Error("a session of a revoked token still has a CSRF token")
	}
	resp := r.form("/login", url.Values{"token": {r.tokens["rita"]}}, nil)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?error=") {
		t.Errorf("login with a revoked token went to %q", loc)
	}
	if n, err := r.m.Purge(ctx); err != nil || n != 1 {
		t.Errorf("Purge: %d, %v; want the revoked token's session", n, err)
	}
}

func TestExpiryAndIdle(t *testing.T) {
	r := newRig(t, session.Options{MaxAge: 10 * time.Hour, Idle: 3 * time.Hour})
	c := r.login("rita")
	// Used every 2 hours, the session lives until MaxAge.
	for range 4 {
		r.clock.Add(2 * time.Hour)
		if got := r.queueStatus(c); got != http.StatusOK {
			t.Fatalf("at %v: %d, want the session alive", r.clock.Now(), got)
		}
	}
	r.clock.Add(2 * time.Hour) // 10 h
	if got := r.queueStatus(c); got != http.StatusUnauthorized {
		t.Errorf("after MaxAge: %d, want 401", got)
	}
	// Idle for longer than Idle: ended.
	c = r.login("rita")
	r.clock.Add(3*time.Hour + time.Minute)
	if got := r.queueStatus(c); got != http.StatusUnauthorized {
		t.Errorf("after the idle cap: %d, want 401", got)
	}
	// Logins purge ended sessions (at most every PurgeEvery).
	r.clock.Add(2 * time.Hour)
	r.login("rita")
	if n, err := r.m.Purge(ctx); err != nil || n != 0 {
		t.Errorf("Purge after a login purged: %d, %v; want 0 left", n, err)
	}
}

// A multipart form (an upload page) may carry the token as its first
// field; the handler still gets the whole body.
func TestMultipartCSRF(t *testing.T) {
	var body bytes.Buffer
	body.WriteString("--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nTOKEN\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\n" + strings.Repeat("z", 100000) + "\r\n--XX--\r\n")
	want := body.Bytes()
	req := httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(want))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
	tok, err := session.FormToken(req)
	if err != nil || tok != "TOKEN" {
		t.Fatalf("FormToken = %q, %v", tok, err)
	}
	got, _ := io.ReadAll(req.Body)
	if !bytes.Equal(got, want) {
		t.Errorf("the handler got %d bytes of the %d-byte body", len(got), len(want))
	}
	// A file before the field: no token (and the body intact).
	late := "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\nzip\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nTOKEN\r\n--XX--\r\n"
	req = httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(late))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
	if tok, _ := session.FormToken(req); tok != "" {
		t.Errorf("token after a file accepted: %q", tok)
	}
	if got, _ := io.ReadAll(req.Body); string(got) != late {
		t.Error("the body changed")
	}
}

// Options.Origins admits the public address behind a proxy that rewrites
// Host; other origins stay refused.
func TestTrustedOrigins(t *testing.T) {
	r := newRig(t, session.Options{Origins: []string{"https://Zoo.Example.org/"}})
	for origin, want := range map[string]int{
		"https://zoo.example.org": http.StatusSeeOther,
		"http://zoo.example.org":  http.StatusForbidden,
		"https://example.org":     http.StatusForbidden,
	} {
		resp := r.form("/login", url.Values{"token": {r.tokens["rita"]}}, nil, "Origin", origin)
		if resp.StatusCode != want {
			t.Errorf("login from %s: %s, want %d", origin, resp.Status, want)
		}
	}
}

// Junk, forged and oversized cookies are anonymous, never an error.
func TestHostileCookies(t *testing.T) {
	r := newRig(t, session.Options{})
	real := r.login("rita")
	for _, v := range []string{"", "x", strings.Repeat("A", 43), real.Value + "A", real.Value[:42] + "=",
		strings.Repeat("é", 20), "../../etc/passwd", strings.Repeat("z", 4000)} {
		if got := r.queueStatus(&http.Cookie{Name: session.CookieName, Value: v}); got != http.StatusUnauthorized {
			t.Errorf("cookie %.50q: %d, want 401 (anonymous)", v, got)
		}
	}
	// The stored hash is not a cookie: sending it gets nowhere.
	sum := sha256.Sum256([]byte(real.Value))
	if got := r.queueStatus(&http.Cookie{Name: session.CookieName, Value: hex.EncodeToString(sum[:])}); got != http.StatusUnauthorized {
		t.Errorf("the stored hash as a cookie: %d, want 401", got)
	}
	if got := r.queueStatus(real); got != http.StatusOK {
		t.Errorf("the real cookie: %d", got)
	}
}

// BenchmarkUser is the cost a session adds to each request: one lookup
// on SQLite (the use is recorded at most every TouchEvery).
func BenchmarkUser(b *testing.B) {
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "zoo.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	m := session.New(db, session.Options{Logger: slog.New(slog.DiscardHandler)})
	u, _ := db.CreateUser(ctx, "rita", zoo.RoleReviewer)
	secret := web.NewToken()
	db.CreateToken(ctx, u.ID, web.HashToken(secret))
	h := web.New(repo.New(db, nil, nil, repo.Config{}), web.Options{Session: m, Routes: m.Routes(), Logger: slog.New(slog.DiscardHandler)})
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"token": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("login: %d %v", rec.Code, rec.Body)
	}
	get := httptest.NewRequest(http.MethodGet, "/", nil)
	get.AddCookie(cookies[0])
	b.ResetTimer()
	for b.Loop() {
		if u, err := m.User(get); err != nil || u == nil {
			b.Fatal(u, err)
		}
	}
}

// After LoginFailures failed logins from one address, even the right token
// is turned away with the time to wait, until the window has passed; a
// successful login does not count.
func TestLoginThrottle(t *testing.T) {
	r := newRig(t, session.Options{LoginFailures: 3, LoginWindow: 10 * time.Minute})
	r.login("carl") // successes do not count
	try := func(token string) string {
		resp := r.form("/login", url.Values{"token": {token}, "next": {"/models"}}, nil,
			"Origin", r.srv.URL, "Sec-Fetch-Site", "same-origin")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %s", resp.Status)
		}
		return resp.Header.Get("Location")
	}
	for i := range 3 {
		if loc := try("zoo_wrong" + strconv.Itoa(i)); !strings.Contains(loc, "unknown+or+revoked") {
			t.Fatalf("failure %d: %q", i+1, loc)
		}
	}
	if loc := try(r.tokens["carl"]); !strings.Contains(loc, "too+many+failed+logins") || !strings.Contains(loc, "10+minutes") {
		t.Fatalf("fourth attempt with the right token: %q, want the throttle's message", loc)
	}
	r.clock.Add(9 * time.Minute)
	if loc := try(r.tokens["carl"]); !strings.Contains(loc, "1+minute") {
		t.Fatalf("a minute before the window ends: %q", loc)
	}
	r.clock.Add(time.Minute)
	r.login("carl") // the window has passed
}

// Behind a reverse proxy (the test server's loopback peer, trusted),
// failed logins are counted per client as the proxy names it in
// X-Forwarded-For: one client's failures do not lock out another (issue
// 15: everyone behind a proxy shared one throttle). A client's own
// X-Forwarded-For entries, left of the proxy's, do not let it escape;
// from an untrusted peer the header is ignored.
func TestLoginThrottleBehindProxy(t *testing.T) {
	trusted, err := web.ParseTrustedProxies("127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	r := newRigBehind(t, session.Options{LoginFailures: 3, LoginWindow: 10 * time.Minute}, trusted)
	try := func(token, xff string) string {
		resp := r.form("/login", url.Values{"token": {token}, "next": {"/models"}}, nil,
			"Origin", r.srv.URL, "Sec-Fetch-Site", "same-origin", "X-Forwarded-For", xff)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %s", resp.Status)
		}
		return resp.Header.Get("Location")
	}
	for i := range 3 {
		// The attacker varies the entries it writes itself.
		try("zoo_wrong"+strconv.Itoa(i), "10.9.9."+strconv.Itoa(i)+", 203.0.113.7")
	}
	if loc := try(r.tokens["carl"], "203.0.113.7"); !strings.Contains(loc, "too+many+failed+logins") {
		t.Errorf("the failing client after 3 failures: %q, want throttled", loc)
	}
	if loc := try(r.tokens["carl"], "198.51.100.4"); loc != "/models" {
		t.Errorf("another client behind the same proxy: %q, want logged in", loc)
	}

	// Not trusting the proxy: every client shares its address.
	r2 := newRig(t, session.Options{LoginFailures: 3, LoginWindow: 10 * time.Minute})
	for i := range 3 {
		r2.form("/login", url.Values{"token": {"zoo_wrong" + strconv.Itoa(i)}}, nil, "Origin", r2.srv.URL, "X-Forwarded-For", "203.0.113.7")
	}
	resp := r2.form("/login", url.Values{"token": {r2.tokens["carl"]}, "next": {"/models"}}, nil, "Origin", r2.srv.URL, "X-Forwarded-For", "198.51.100.4")
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "too+many+failed+logins") {
		t.Errorf("without trusted proxies a forged X-Forwarded-For escaped the throttle: %q", loc)
	}
}

// The idle cap is "longer than Idle": a session unused for exactly Idle
// still works (and its use is recorded, so it lives another Idle); one
// unused for a second longer is ended.
func TestIdleCapBoundary(t *testing.T) {
	r := newRig(t, session.Options{MaxAge: 100 * time.Hour, Idle: 3 * time.Hour})
	r.clock.mu.Lock()
	r.clock.t = r.clock.t.Truncate(time.Second) // stored times keep whole seconds at least
	r.clock.mu.Unlock()
	c := r.login("rita")
	r.clock.Add(3 * time.Hour)
	if got := r.queueStatus(c); got != http.StatusOK {
		t.Fatalf("unused for exactly the idle cap: %d, want the session alive", got)
	}
	r.clock.Add(3 * time.Hour)
	if got := r.queueStatus(c); got != http.StatusOK {
		t.Fatalf("used at the idle cap, then unused for the cap again: %d, want alive (the use was recorded)", got)
	}
	r.clock.Add(3*time.Hour + time.Second)
	if got := r.queueStatus(c); got != http.StatusUnauthorized {
		t.Errorf("unused for a second longer than the idle cap: %d, want 401", got)
	}
}
