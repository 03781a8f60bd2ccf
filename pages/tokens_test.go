package pages_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/web"
)

// TestTokensPage: a signed-in user makes a named token on /my/tokens (its
// secret shown once, in the answer to the POST), sees it listed, and
// revokes it; the forms need the session's CSRF token.
func TestTokensPage(t *testing.T) {
	e := newTestEnv(t, nil)
	if code, _ := e.get("", "/my/tokens"); code != http.StatusSeeOther {
		t.Errorf("anonymous /my/tokens: %d, want a redirect to the login", code)
	}
	_, page := e.get("alice", "/my/tokens")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "My API tokens") {
		t.Fatalf("no token form with a CSRF token:\n%s", page)
	}
	post := func(form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/my/tokens", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.srv.URL)
		req.AddCookie(e.login("alice"))
		res, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := post(url.Values{"action": {"create"}, "name": {"laptop"}}); code != http.StatusForbidden {
		t.Errorf("create without CSRF token: %d, want 403", code)
	}
	code, body := post(url.Values{"action": {"create"}, "name": {"laptop"}, "expires_in_days": {"30"}, "csrf": {m[1]}})
	secret := regexp.MustCompile(`<code class="secret">(zoo_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(body)
	if code != http.StatusOK || secret == nil {
		t.Fatalf("create: %d, no secret shown:\n%s", code, body)
	}
	u, err := e.svc.Catalog().UserByToken(context.Background(), web.HashToken(secret[1]))
	if err != nil || u.Name != "alice" {
		t.Fatalf("the shown token does not authenticate alice: %v %v", u, err)
	}
	_, page = e.get("alice", "/my/tokens")
	if strings.Contains(page, secret[1]) || !strings.Contains(page, "<code>laptop</code>") || !strings.Contains(page, `aria-label="revoke token laptop"`) {
		t.Errorf("list after create (secret must not be shown again):\n%s", page)
	}
	if code, body := post(url.Values{"action": {"create"}, "name": {"laptop"}, "csrf": {m[1]}}); code != http.StatusConflict || !strings.Contains(html.UnescapeString(body), `"laptop"`) {
		t.Errorf("duplicate name: %d", code)
	}
	if code, _ := post(url.Values{"action": {"create"}, "name": {"<b>"}, "csrf": {m[1]}}); code != http.StatusBadRequest {
		t.Errorf("bad name: %d", code)
	}
	code, body = post(url.Values{"action": {"revoke"}, "name": {"laptop"}, "csrf": {m[1]}})
	if code != http.StatusOK || !strings.Contains(body, "token laptop revoked") {
		t.Fatalf("revoke: %d\n%s", code, body)
	}
	if _, err := e.svc.Catalog().UserByToken(context.Background(), web.HashToken(secret[1])); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("revoked on the page, still authenticates: %v", err)
	}
	// bob's page does not show alice's tokens.
	if _, page := e.get("bob", "/my/tokens"); strings.Contains(page, "<code>laptop</code>") {
		t.Errorf("bob sees alice's token")
	}
}
