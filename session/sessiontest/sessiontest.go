// Package sessiontest is the conformance suite of session.Store, run by
// both backends (sqlite, postgres) so that they cannot drift apart.
package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/session"
)

// DB is a catalog that also stores sessions.
type DB interface {
	zoo.Catalog
	session.Store
}

// Run runs the suite. open returns a fresh, empty database and arranges
// its closing with t.Cleanup; subtests call it in parallel.
func Run(t *testing.T, open func(t *testing.T) DB) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, db DB)
	}{
		{"RoundTrip", testRoundTrip},
		{"Tokens", testTokens},
		{"Expiry", testExpiry},
		{"TokenExpiry", testTokenExpiry},
		{"TouchAndDelete", testTouchAndDelete},
		{"Purge", testPurge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, err error, kind zoo.Kind) {
	t.Helper()
	var ze *zoo.Error
	if !errors.As(err, &ze) || ze.Kind != kind {
		t.Fatalf("got %v, want a *zoo.Error of kind %v", err, kind)
	}
}

// base is a fixed instant in microseconds (what the stores keep).
var base = time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)

// userToken makes a user with one token and returns the user and the
// token's hash.
func userToken(t *testing.T, db DB, name string, role zoo.Role) (*zoo.User, string) {
	t.Helper()
	u, err := db.CreateUser(ctx, name, role)
	must(t, err)
	h := hash("secret of " + name)
	_, err = db.CreateToken(ctx, u.ID, h)
	must(t, err)
	return u, h
}

func newSession(id, tokenHash string) *zoo.Session {
	return &zoo.Session{IDHash: hash(id), TokenHash: tokenHash, CSRF: "csrf-" + id,
		CreatedAt: base, SeenAt: base, ExpiresAt: base.Add(14 * 24 * time.Hour)}
}

func testRoundTrip(t *testing.T, db DB) {
	ann, tok := userToken(t, db, "ann", zoo.RoleReviewer)
	s := newSession("a", tok)
	must(t, db.CreateSession(ctx, s))
	if s.UserID != ann.ID {
		t.Errorf("CreateSession set UserID %d, want %d", s.UserID, ann.ID)
	}
	got, u, err := db.SessionByHash(ctx, hash("a"), base.Add(time.Hour))
	must(t, err)
	if got.IDHash != s.IDHash || got.TokenHash != tok || got.UserID != ann.ID || got.CSRF != "csrf-a" ||
		!got.CreatedAt.Equal(base) || !got.SeenAt.Equal(base) || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Errorf("SessionByHash = %+v, want %+v", got, s)
	}
	if u.ID != ann.ID || u.Name != "ann" || u.Role != zoo.RoleReviewer || !u.CreatedAt.Equal(ann.CreatedAt) {
		t.Errorf("session user = %+v, want %+v", u, ann)
	}
	// The user's current role counts, not the one at login.
	must(t, db.SetRole(ctx, ann.ID, zoo.RoleContributor))
	if _, u, err = db.SessionByHash(ctx, hash("a"), base); err != nil || u.Role != zoo.RoleContributor {
		t.Errorf("after SetRole: %+v, %v; want role contributor", u, err)
	}
	// The same id twice: Conflict.
	wantKind(t, db.CreateSession(ctx, newSession("a", tok)), zoo.Conflict)
	_, _, err = db.SessionByHash(ctx, hash("other"), base)
	wantKind(t, err, zoo.NotFound)
	// A malformed id hash is refused before it is stored.
	bad := newSession("b", tok)
	bad.IDHash = "not a hash"
	wantKind(t, db.CreateSession(ctx, bad), zoo.Invalid)
}

// Sessions are made only with a valid token, and revoking the token ends
// every session made with it, not those of the user's other tokens.
func testTokens(t *testing.T, db DB) {
	ann, tok := userToken(t, db, "ann", zoo.RoleContributor)
	wantKind(t, db.CreateSession(ctx, newSession("x", hash("unknown"))), zoo.NotFound)
	tok2 := hash("second token")
	_, err := db.CreateToken(ctx, ann.ID, tok2)
	must(t, err)
	must(t, db.CreateSession(ctx, newSession("one", tok)))
	must(t, db.CreateSession(ctx, newSession("two", tok)))
	must(t, db.CreateSession(ctx, newSession("three", tok2)))
	must(t, db.RevokeToken(ctx, tok))
	for _, id := range []string{"one", "two"} {
		_, _, err := db.SessionByHash(ctx, hash(id), base)
		wantKind(t, err, zoo.NotFound)
	}
	if _, u, err := db.SessionByHash(ctx, hash("three"), base); err != nil || u.ID != ann.ID {
		t.Errorf("session of the other token: %+v, %v", u, err)
	}
	wantKind(t, db.CreateSession(ctx, newSession("four", tok)), zoo.NotFound)
}

func testExpiry(t *testing.T, db DB) {
	_, tok := userToken(t, db, "ann", zoo.RoleContributor)
	s := newSession("e", tok)
	s.ExpiresAt = base.Add(time.Hour)
	must(t, db.CreateSession(ctx, s))
	if _, _, err := db.SessionByHash(ctx, hash("e"), base.Add(time.Hour-time.Microsecond)); err != nil {
		t.Errorf("a microsecond before expiry: %v", err)
	}
	_, _, err := db.SessionByHash(ctx, hash("e"), base.Add(time.Hour))
	wantKind(t, err, zoo.NotFound)
}

// A session ends with its token's expiry (names and expiries of tokens,
// issue 22), and an expired token cannot make one.
func testTokenExpiry(t *testing.T, db DB) {
	ann, _ := userToken(t, db, "ann", zoo.RoleContributor)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	tok := hash("expiring")
	_, err := db.CreateNamedToken(ctx, ann.ID, tok, "expiring", &exp)
	must(t, err)
	s := newSession("x", tok)
	s.CreatedAt, s.SeenAt, s.ExpiresAt = exp.Add(-time.Hour), exp.Add(-time.Hour), exp.Add(24*time.Hour)
	must(t, db.CreateSession(ctx, s))
	if _, _, err := db.SessionByHash(ctx, hash("x"), exp.Add(-time.Minute)); err != nil {
		t.Errorf("before the token expires: %v", err)
	}
	_, _, err = db.SessionByHash(ctx, hash("x"), exp)
	wantKind(t, err, zoo.NotFound)
	past := time.Now().Add(-time.Second)
	old := hash("expired")
	_, err = db.CreateNamedToken(ctx, ann.ID, old, "expired", &past)
	must(t, err)
	wantKind(t, db.CreateSession(ctx, newSession("y", old)), zoo.NotFound)
}

func testTouchAndDelete(t *testing.T, db DB) {
	_, tok := userToken(t, db, "ann", zoo.RoleContributor)
	must(t, db.CreateSession(ctx, newSession("t", tok)))
	later := base.Add(90 * time.Minute)
	must(t, db.TouchSession(ctx, hash("t"), later))
	s, _, err := db.SessionByHash(ctx, hash("t"), later)
	must(t, err)
	if !s.SeenAt.Equal(later) || !s.CreatedAt.Equal(base) {
		t.Errorf("after touch: seen %v created %v", s.SeenAt, s.CreatedAt)
	}
	wantKind(t, db.TouchSession(ctx, hash("none"), later), zoo.NotFound)
	must(t, db.DeleteSession(ctx, hash("t")))
	_, _, err = db.SessionByHash(ctx, hash("t"), later)
	wantKind(t, err, zoo.NotFound)
	must(t, db.DeleteSession(ctx, hash("t"))) // again: no error
}

func testPurge(t *testing.T, db DB) {
	_, tok := userToken(t, db, "ann", zoo.RoleContributor)
	_, tok2 := userToken(t, db, "bob", zoo.RoleContributor)
	mk := func(id, tok string, seen, expires time.Time) {
		s := newSession(id, tok)
		s.SeenAt, s.ExpiresAt = seen, expires
		must(t, db.CreateSession(ctx, s))
	}
	now := base.Add(10 * 24 * time.Hour)
	mk("live", tok, now.Add(-time.Hour), now.Add(time.Hour))
	mk("expired", tok, now.Add(-time.Hour), now)
	mk("idle", tok, now.Add(-4*24*time.Hour), now.Add(time.Hour))
	mk("revoked", tok2, now, now.Add(time.Hour))
	must(t, db.RevokeToken(ctx, tok2))
	n, err := db.PurgeSessions(ctx, now, now.Add(-3*24*time.Hour))
	must(t, err)
	if n != 3 {
		t.Errorf("PurgeSessions deleted %d, want 3 (expired, idle, revoked)", n)
	}
	if _, _, err := db.SessionByHash(ctx, hash("live"), now); err != nil {
		t.Errorf("the live session was purged: %v", err)
	}
	// What was purged is gone from the table: touching it fails.
	for _, id := range []string{"expired", "idle", "revoked"} {
		wantKind(t, db.TouchSession(ctx, hash(id), now), zoo.NotFound)
	}
	if n, err := db.PurgeSessions(ctx, now, now.Add(-3*24*time.Hour)); err != nil || n != 0 {
		t.Errorf("second purge: %d, %v; want 0", n, err)
	}
}
