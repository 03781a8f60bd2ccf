package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// zoo serve has login sessions: a token from zoo admin token logs in at
// POST /login, the cookie authenticates API calls, and zoo admin revoke
// ends the session.
func TestServeSessionLogin(t *testing.T) {
	data := t.TempDir()
	tok := token(t, []string{"--data", data}, "rita", "reviewer")
	server, _ := startServe(t, "--data", data, "--workers", "0")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := client.PostForm(server+"/login", url.Values{"token": {tok}, "next": {"/api/v1/review-queue"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/api/v1/review-queue" {
		t.Fatalf("login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "zoo_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly {
		t.Fatalf("login cookies %v: want an HttpOnly zoo_session", resp.Cookies())
	}
	queue := func() int {
		req, _ := http.NewRequest(http.MethodGet, server+"/api/v1/review-queue", nil)
		req.AddCookie(cookie)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := queue(); got != http.StatusOK {
		t.Fatalf("review queue with the session: %d, want 200", got)
	}
	// An unsafe request without the CSRF token is refused.
	req, _ := http.NewRequest(http.MethodPost, server+"/logout", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without csrf: %s, want 403", resp.Status)
	}
	zooOK(t, "admin", "revoke", "--data", data, tok)
	if got := queue(); got != http.StatusUnauthorized {
		t.Errorf("review queue after the token was revoked: %d, want 401 (anonymous)", got)
	}
}
