package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/repo"
)

func TestTokensAPI(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	e.problem(e.get("", "/api/v1/tokens"), http.StatusUnauthorized)
	e.problem(e.postJSON("", "/api/v1/tokens", NewTokenRequest{Name: "x"}), http.StatusUnauthorized)

	// Make a token that expires in 30 days; its secret works at once.
	r := e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "ci-upload", ExpiresInDays: 30})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	var made NewTokenResponse
	if err := json.Unmarshal(r.body, &made); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(made.Token, TokenPrefix) || made.Name != "ci-upload" || !made.Active || made.ExpiresAt == nil ||
		made.ExpiresAt.Sub(time.Now()) < 29*24*time.Hour || made.ExpiresAt.Sub(time.Now()) > 31*24*time.Hour {
		t.Fatalf("created: %+v", made)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("a secret is sent cacheable: Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	e.tokens["alice-ci"] = made.Token
	if r := e.get("alice-ci", "/api/v1/review-queue"); r.StatusCode == http.StatusUnauthorized {
		t.Fatalf("the new token does not authenticate: %s", r.body)
	}
	// Same name again: 409 naming it; bad names and expiries: 400.
	p := e.problem(e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "ci-upload"}), http.StatusConflict)
	if !strings.Contains(p.Detail, "ci-upload") {
		t.Errorf("conflict detail %q", p.Detail)
	}
	e.problem(e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "a b"}), http.StatusBadRequest)
	e.problem(e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "ok", ExpiresInDays: MaxTokenDays + 1}), http.StatusBadRequest)
	e.problem(e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "ok", ExpiresInDays: -1}), http.StatusBadRequest)
	e.problem(e.postJSON("alice", "/api/v1/tokens", map[string]any{"name": "ok", "secret": "mine"}), http.StatusBadRequest)

	// The list: both of alice's tokens, newest first, with last use; no
	// secret or hash; bob's are not there.
	r = e.get("alice", "/api/v1/tokens")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", r.StatusCode, r.body)
	}
	if strings.Contains(string(r.body), made.Token) || strings.Contains(string(r.body), HashToken(made.Token)) || strings.Contains(string(r.body), HashToken(e.tokens["alice"])) {
		t.Fatalf("the list shows a secret or hash: %s", r.body)
	}
	var list struct{ Tokens []TokenInfo }
	json.Unmarshal(r.body, &list)
	if len(list.Tokens) != 2 || list.Tokens[0].Name != "ci-upload" || !strings.HasPrefix(list.Tokens[1].Name, "token-") ||
		list.Tokens[0].LastUsedAt == nil || list.Tokens[1].LastUsedAt == nil {
		t.Fatalf("list = %+v", list.Tokens)
	}

	// Revoke by name: the token stops working, the list says so; bob
	// cannot revoke alice's token (404: he has none of that name).
	e.problem(e.do(req{as: "bob", method: "DELETE", path: "/api/v1/tokens/ci-upload"}), http.StatusNotFound)
	r = e.do(req{as: "alice", method: "DELETE", path: "/api/v1/tokens/ci-upload"})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	e.problem(e.get("alice-ci", "/api/v1/tokens"), http.StatusUnauthorized)
	e.problem(e.do(req{as: "alice", method: "DELETE", path: "/api/v1/tokens/ci-upload"}), http.StatusNotFound)
	r = e.get("alice", "/api/v1/tokens")
	json.Unmarshal(r.body, &list)
	if list.Tokens[0].Active || list.Tokens[0].RevokedAt == nil {
		t.Errorf("after revoke: %+v", list.Tokens[0])
	}
	// Audited.
	entries, err := e.cat.Audit(t.Context(), "", 0)
	if err == nil {
		var n int
		for _, a := range entries {
			if strings.HasPrefix(a.Action, "token.") && a.ActorID == e.users["alice"].ID {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d token audit entries, want 2 (create, revoke): %+v", n, entries)
		}
	}
	// The OpenAPI document describes the routes.
	doc := e.get("", "/api/openapi.json")
	for _, want := range []string{`"/api/v1/tokens"`, `"/api/v1/tokens/{name}"`, `"createToken"`, `"revokeToken"`} {
		if !strings.Contains(string(doc.body), want) {
			t.Errorf("openapi.json lacks %s", want)
		}
	}
}
