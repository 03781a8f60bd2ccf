package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

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
