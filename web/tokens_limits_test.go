package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/zoo-bioimage/zoo/repo"
)

// TestTokenWithoutExpiry: expires_in_days 0 (or left out) is a token that
// does not expire, usable at once, not one that is already expired.
func TestTokenWithoutExpiry(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	for i, body := range []any{NewTokenRequest{Name: "zero", ExpiresInDays: 0}, map[string]any{"name": "absent"}} {
		r := e.postJSON("alice", "/api/v1/tokens", body)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", r.StatusCode, r.body)
		}
		var made NewTokenResponse
		if err := json.Unmarshal(r.body, &made); err != nil {
			t.Fatal(err)
		}
		if made.ExpiresAt != nil || !made.Active {
			t.Errorf("%v: expires at %v, active %v", body, made.ExpiresAt, made.Active)
		}
		name := fmt.Sprintf("new%d", i)
		e.tokens[name] = made.Token
		if r := e.get(name, "/api/v1/tokens"); r.StatusCode != http.StatusOK {
			t.Errorf("%v: the new token does not authenticate: %d %s", body, r.StatusCode, r.body)
		}
	}
}

// TestActiveTokenLimit: a user has at most MaxActiveTokens active tokens
// (the one made with the user counts); the next is 409; a revoked token
// frees its place.
func TestActiveTokenLimit(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	for i := 1; i < MaxActiveTokens; i++ { // alice already has one
		if r := e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: fmt.Sprintf("t%d", i)}); r.StatusCode != http.StatusCreated {
			t.Fatalf("token %d of %d: %d %s", i+1, MaxActiveTokens, r.StatusCode, r.body)
		}
	}
	e.problem(e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "one-too-many"}), http.StatusConflict)
	if r := e.do(req{as: "alice", method: "DELETE", path: "/api/v1/tokens/t1"}); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	if r := e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "in-its-place"}); r.StatusCode != http.StatusCreated {
		t.Errorf("after a revoke: %d %s", r.StatusCode, r.body)
	}
	e.problem(e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: "again-too-many"}), http.StatusConflict)
	// Another user is not limited by alice's tokens.
	if r := e.postJSON("bob", "/api/v1/tokens", NewTokenRequest{Name: "t1"}); r.StatusCode != http.StatusCreated {
		t.Errorf("bob: %d %s", r.StatusCode, r.body)
	}
}
