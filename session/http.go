package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
	"github.com/zoo-bioimage/zoo/web"
)

// Limits on what the handlers and CheckCSRF read.
const (
	maxLoginForm = 8 << 10  // POST /login and /logout bodies
	maxCSRFForm  = 1 << 20  // a urlencoded body CheckCSRF parses
	maxCSRFPeek  = 64 << 10 // how far into a multipart body the csrf field may be
	maxTokenLen  = 512      // an API token (ours are 47 characters)
	maxNextLen   = 2048     // the "next" path after login
	maxCSRFValue = 256      // the csrf field's value (ours are 43 characters)
)

// Routes returns POST /login and POST /logout (mounted through
// web.Options.Routes; not under /api/).
//
// POST /login takes the form fields "token" (an API token) and "next" (a
// path on this site to return to; anything else becomes "/"). On success
// it sets the session cookie and answers 303 See Other to next; on failure
// 303 to /login?error=MESSAGE&next=NEXT (the login page shows the error).
// A post another site made the browser send is refused with 403. After
// Options.LoginFailures failed logins from one address within
// Options.LoginWindow, its attempts are refused (303 back to the login page
// with the time to wait) until the window ends, without looking the token
// up.
//
// POST /logout needs the session's CSRF token (field "csrf" or header
// X-CSRF-Token), deletes the session, clears the cookie and answers 303 to
// "/". Without a live session it only clears the cookie.
func (m *Manager) Routes() []web.Route {
	return []web.Route{
		{Pattern: "POST /login", Handler: http.HandlerFunc(m.login)},
		{Pattern: "POST /logout", Handler: http.HandlerFunc(m.logout)},
	}
}

func (m *Manager) login(w http.ResponseWriter, r *http.Request) {
	const op = "session.Login"
	w.Header().Set("Cache-Control", "no-store")
	if err := m.sameOrigin(r); err != nil {
		web.Fail(w, r, zoo.E(op, zoo.Forbidden, err, "log in on this site's own login page"))
		return
	}
	token, next, err := readLogin(w, r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	back := func(msg string) {
		http.Redirect(w, r, "/login?error="+url.QueryEscape(msg)+"&next="+url.QueryEscape(next), http.StatusSeeOther)
	}
	now := m.opts.Now()
	addr := clientAddr(r)
	if wait := m.throttle.wait(addr, now); wait > 0 {
		metrics.Refuse(r.Context(), m.opts.Logger, "login_failures", http.StatusSeeOther, "client", addr)
		back(fmt.Sprintf("too many failed logins from your address; try again in %s", roundUp(wait)))
		return
	}
	switch {
	case token == "":
		back("enter your API token")
		return
	case len(token) > maxTokenLen:
		m.throttle.failed(addr, now)
		back("that is not an API token")
		return
	}
	ctx := r.Context()
	id := newSecret()
	s := &zoo.Session{IDHash: hashID(id), TokenHash: web.HashToken(token), CSRF: newSecret(),
		CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(m.opts.MaxAge)}
	if err := m.store.CreateSession(ctx, s); err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			m.throttle.failed(addr, now)
			back("unknown or revoked API token; ask an administrator for a new one")
			return
		}
		web.Fail(w, r, zoo.E(op, zoo.Unavailable, err, "cannot log in right now; try again"))
		return
	}
	if old, ok := cookieHash(r); ok { // this browser's previous session ends
		if err := m.store.DeleteSession(ctx, old); err != nil {
			m.opts.Logger.Warn("session: cannot delete the replaced session", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/",
		Expires: s.ExpiresAt, MaxAge: int(m.opts.MaxAge.Seconds()),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode,
	})
	m.maybePurge(ctx)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// roundUp says a wait in whole minutes ("1 minute", "7 minutes").
func roundUp(d time.Duration) string {
	n := int((d + time.Minute - 1) / time.Minute)
	if n <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// readLogin reads the login form (urlencoded or multipart, at most
// maxLoginForm bytes): the token, trimmed, and the safe next path.
func readLogin(w http.ResponseWriter, r *http.Request) (token, next string, err error) {
	const op = "session.Login"
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	err = r.ParseForm() // ParseMultipartForm would hide its error behind ErrNotMultipart
	if err == nil {
		if err = r.ParseMultipartForm(maxLoginForm); errors.Is(err, http.ErrNotMultipart) {
			err = nil
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", "", zoo.E(op, zoo.TooLarge, err, "the login form is larger than %d bytes", maxLoginForm)
		}
		return "", "", zoo.E(op, zoo.Invalid, err, "cannot read the login form; send it as a form (token, next)")
	}
	return strings.TrimSpace(r.PostFormValue("token")), SafeNext(r.PostFormValue("next")), nil
}

func (m *Manager) logout(w http.ResponseWriter, r *http.Request) {
	const op = "session.Logout"
	w.Header().Set("Cache-Control", "no-store")
	s, _, err := m.lookup(r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	if s != nil {
		if err := m.CheckCSRF(r); err != nil {
			web.Fail(w, r, err)
			return
		}
		if err := m.store.DeleteSession(r.Context(), s.IDHash); err != nil {
			web.Fail(w, r, zoo.E(op, zoo.Unavailable, err, "cannot log out right now; try again"))
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// SafeNext returns next if it is a path on this site ("/models/x?tab=2"),
// else "/": no scheme or host, not "//host" or "/\host" (which browsers
// read as another host), no control characters or spaces, at most
// maxNextLen bytes.
func SafeNext(next string) string {
	if next == "" || len(next) > maxNextLen || next[0] != '/' {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for _, c := range next {
		if c == '\\' || unicode.IsControl(c) || unicode.IsSpace(c) || c == unicode.ReplacementChar {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return next
}

// formToken returns the "csrf" field of r's form body: of a urlencoded
// body (parsed into r.PostForm, at most maxCSRFForm bytes), or of a
// multipart body, where it must come before any file and within
// maxCSRFPeek bytes (the body is then given back whole to the handler).
// Other bodies carry none ("").
func formToken(r *http.Request) (string, error) {
	if r.Body == nil {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return "", nil
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(nil, r.Body, maxCSRFForm)
		if err := r.ParseForm(); err != nil {
			return "", err
		}
		return r.PostForm.Get("csrf"), nil
	case "multipart/form-data":
		if params["boundary"] == "" {
			return "", nil
		}
		return peekMultipart(r, params["boundary"])
	}
	return "", nil
}

// peekMultipart reads the parts of r's multipart body up to the first file
// or the "csrf" field, within maxCSRFPeek bytes, and puts back what it read
// so the handler sees the body unchanged.
func peekMultipart(r *http.Request, boundary string) (string, error) {
	var seen bytes.Buffer
	body := r.Body
	mr := multipart.NewReader(io.TeeReader(io.LimitReader(body, maxCSRFPeek), &seen), boundary)
	defer func() {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(seen.Bytes()), body), body}
	}()
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", nil // no csrf field within reach
		}
		if p.FileName() != "" {
			return "", nil
		}
		if p.FormName() == "csrf" {
			v, err := io.ReadAll(io.LimitReader(p, maxCSRFValue+1))
			if err != nil || len(v) > maxCSRFValue {
				return "", nil
			}
			return string(v), nil
		}
	}
}
