// Package pgtest gives each test its own PostgreSQL database, so that
// tests can run in parallel against one server.
//
// The server is named by ZOO_TEST_POSTGRES, a postgres:// URL of a role
// that may create databases; scripts/pg-server.sh starts a throwaway one
// and prints the export line:
//
//	eval "$(scripts/pg-server.sh start)"
//
// Without ZOO_TEST_POSTGRES a test that needs PostgreSQL is skipped, and
// the skip message names the script; when the environment variable CI is
// set, it fails instead, so that CI cannot go green without running them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo/internal/testenv"
)

// EnvVar names the server.
const EnvVar = "ZOO_TEST_POSTGRES"

// DSN creates a database with a random name on the server named by
// ZOO_TEST_POSTGRES, drops it when the test ends (closing what is still
// connected), and returns its URL. Without ZOO_TEST_POSTGRES the test is
// skipped, or fails under CI and make test (internal/testenv).
func DSN(t testing.TB) string {
	t.Helper()
	base := testenv.Env(t, testenv.PostgreSQL, EnvVar)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "zoo_t_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to %s (%s): %v", EnvVar, u.Redacted(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
