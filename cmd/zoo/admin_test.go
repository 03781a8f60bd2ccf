package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/web"
)

func TestAdminRevokeStopsAToken(t *testing.T) {
	data := t.TempDir()
	code, out, errs := runZoo(t, "admin", "token", "--data", data, "--user", "ada", "--role", "reviewer")
	if code != 0 {
		t.Fatalf("token: exit %d: %s", code, errs)
	}
	token := strings.TrimSpace(out)
	if code, _, errs := runZoo(t, "admin", "revoke", "--data", data, token); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errs)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(data, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.UserByToken(context.Background(), web.HashToken(token)); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("revoked token still authenticates: %v", err)
	}
	if code, _, _ := runZoo(t, "admin", "revoke", "--data", data, token); code != 1 {
		t.Errorf("revoking twice: exit %d, want 1", code)
	}
}

// zoo admin token run from another folder does not create an empty
// ./zoo-data whose token the server does not know (issue 17): it refuses,
// naming the folder it looked for and what to do; a new instance's
// catalog is created only in an existing folder, and the command says so.
func TestAdminTokenFromAnotherFolder(t *testing.T) {
	elsewhere := t.TempDir()
	t.Chdir(elsewhere)
	code, errs := zooFail(t, "admin", "token", "--user", "ada")
	if code != 2 || !strings.Contains(errs, filepath.Join(elsewhere, "zoo-data")) || !strings.Contains(errs, "where zoo serve was started") {
		t.Errorf("exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "zoo-data")); !os.IsNotExist(err) {
		t.Errorf("a data folder was created: %v", err)
	}
	if code, _ := zooFail(t, "admin", "revoke", "--data", filepath.Join(elsewhere, "typo"), "zoo_x"); code != 2 {
		t.Errorf("revoke with a missing folder: exit %d", code)
	}
	fresh := t.TempDir()
	code, out, errs := runZoo(t, "admin", "token", "--data", fresh, "--user", "ada")
	if code != 0 || !strings.HasPrefix(out, "zoo_") || !strings.Contains(errs, "new, empty one was created") {
		t.Errorf("new instance: exit %d, %q, %q", code, out, errs)
	}
	if code, _, errs := runZoo(t, "admin", "token", "--data", fresh, "--user", "bob"); code != 0 || strings.Contains(errs, "new, empty") {
		t.Errorf("existing instance: exit %d, %q", code, errs)
	}
}

// Named tokens with an expiry, listed and revoked by name (issue 22).
func TestAdminNamedTokens(t *testing.T) {
	data := t.TempDir()
	ci := zooOK(t, "admin", "token", "--data", data, "--user", "ada", "--name", "ci-upload", "--expires-in-days", "7")
	ci = strings.TrimSpace(ci)
	zooOK(t, "admin", "token", "--data", data, "--user", "ada")
	if code, _ := zooFail(t, "admin", "token", "--data", data, "--user", "ada", "--name", "ci-upload"); code != 3 {
		t.Errorf("a second active ci-upload: exit %d, want 3 (conflict)", code)
	}
	if code, _ := zooFail(t, "admin", "token", "--data", data, "--user", "ada", "--name", "no spaces"); code != 2 {
		t.Errorf("bad name: exit %d, want 2", code)
	}
	var got struct {
		User   string
		Tokens []web.TokenInfo
	}
	if err := json.Unmarshal([]byte(zooOK(t, "admin", "tokens", "--data", data, "--user", "ada", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.User != "ada" || len(got.Tokens) != 2 || got.Tokens[1].Name != "ci-upload" || got.Tokens[1].ExpiresAt == nil ||
		time.Until(*got.Tokens[1].ExpiresAt) < 6*24*time.Hour || !strings.HasPrefix(got.Tokens[0].Name, "token-") || got.Tokens[0].ExpiresAt != nil {
		t.Fatalf("tokens --json = %+v", got)
	}
	table := zooOK(t, "admin", "tokens", "--data", data, "--user", "ada")
	if !strings.Contains(table, "NAME") || !strings.Contains(table, "ci-upload") || strings.Contains(table, ci) {
		t.Errorf("tokens table:\n%s", table)
	}
	zooOK(t, "admin", "revoke", "--data", data, "--user", "ada", "--name", "ci-upload")
	db, err := sqlite.Open(context.Background(), filepath.Join(data, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.UserByToken(context.Background(), web.HashToken(ci))
	db.Close()
	if zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("token revoked by name still authenticates: %v", err)
	}
	if code, msg := zooFail(t, "admin", "revoke", "--data", data, "--user", "ada", "--name", "ci-upload"); code != 1 || !strings.Contains(msg, "ci-upload") {
		t.Errorf("revoke twice: exit %d %q", code, msg)
	}
	if table := zooOK(t, "admin", "tokens", "--data", data, "--user", "ada"); !strings.Contains(table, "revoked") {
		t.Errorf("after revoke:\n%s", table)
	}
	if code, _ := zooFail(t, "admin", "revoke", "--data", data, "--name", "ci-upload"); code != 2 {
		t.Errorf("--name without --user: exit %d", code)
	}
}

// zoo tokens: a user's own tokens through the server's API.
func TestTokensCLI(t *testing.T) {
	data := t.TempDir()
	ada := token(t, []string{"--data", data}, "ada", "contributor")
	server, _ := startServe(t, "--data", data, "--workers", "0")
	secret := strings.TrimSpace(zooOK(t, "tokens", "create", "ci-upload", "--expires-in-days", "3", "--server", server, "--token", ada))
	if !strings.HasPrefix(secret, "zoo_") {
		t.Fatalf("tokens create printed %q", secret)
	}
	var got struct{ Tokens []web.TokenInfo }
	if err := json.Unmarshal([]byte(zooOK(t, "tokens", "list", "--json", "--server", server, "--token", secret)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tokens) != 2 || got.Tokens[0].Name != "ci-upload" || got.Tokens[0].ExpiresAt == nil || got.Tokens[0].LastUsedAt == nil {
		t.Fatalf("tokens list = %+v", got.Tokens)
	}
	if code, msg := zooFail(t, "tokens", "create", "ci-upload", "--server", server, "--token", ada); code != 1 || !strings.Contains(msg, "ci-upload") {
		t.Errorf("duplicate name: exit %d %q", code, msg)
	}
	if out := zooOK(t, "tokens", "revoke", "ci-upload", "--server", server, "--token", ada); !strings.Contains(out, "revoked") {
		t.Errorf("revoke printed %q", out)
	}
	if code, _ := zooFail(t, "tokens", "list", "--server", server, "--token", secret); code != 1 {
		t.Errorf("a revoked token still lists: exit %d", code)
	}
	if table := zooOK(t, "tokens", "list", "--server", server, "--token", ada); !strings.Contains(table, "revoked") || !strings.Contains(table, "ci-upload") {
		t.Errorf("table:\n%s", table)
	}
}
