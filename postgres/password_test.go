package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo/postgres/pgtest"
)

// TestPasswordOutsideTheURL: a role whose password PostgreSQL checks
// (scram-sha-256) connects with a DSN that holds no password, the
// password coming from PGPASSWORD or from a password file named by
// PGPASSFILE (libpq's rules, which pgx follows) — so it need not appear in
// the command line that ps shows (docs/deploy.md). Without either it is
// refused.
func TestPasswordOutsideTheURL(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var hba string
	if err := admin.QueryRow(ctx, `SHOW hba_file`).Scan(&hba); err != nil {
		t.Skipf("cannot read the server's hba_file: %v", err)
	}
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Skipf("the test server's %s is not readable here (a remote server?): %v", hba, err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	role, password := "zoo_pw_"+hex.EncodeToString(b), "pw-"+hex.EncodeToString(b)+"-secret"
	if _, err := admin.Exec(ctx, `CREATE ROLE `+role+` LOGIN PASSWORD '`+password+`'`); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	db := strings.TrimPrefix(u.Path, "/")
	if _, err := admin.Exec(ctx, `GRANT ALL ON DATABASE `+db+` TO `+role+`; GRANT ALL ON SCHEMA public TO `+role); err != nil {
		t.Fatal(err)
	}
	// The role's connections need its password: a line for it above the
	// test server's trust lines.
	line := "host all " + role + " 127.0.0.1/32 scram-sha-256\nhost all " + role + " ::1/128 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(line), orig...), 0o600); err != nil {
		t.Skipf("cannot change %s: %v", hba, err)
	}
	admin.Exec(ctx, `SELECT pg_reload_conf()`)
	t.Cleanup(func() {
		os.WriteFile(hba, orig, 0o600)
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), `SELECT pg_reload_conf()`)
			c.Exec(context.Background(), `DROP OWNED BY `+role)
			c.Close(context.Background())
		}
	})

	u.User = url.User(role)
	noPassword := u.String()
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	if d, err := Open(ctx, noPassword); err == nil {
		d.Close()
		t.Fatal("a password-checked role connected without a password: the test does not check anything")
	}

	t.Setenv("PGPASSWORD", password)
	d, err := Open(ctx, noPassword)
	if err != nil {
		t.Fatalf("with PGPASSWORD: %v", err)
	}
	d.Close()

	t.Setenv("PGPASSWORD", "")
	pass := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(pass, []byte("# host:port:database:user:password\n"+u.Hostname()+":"+u.Port()+":*:"+role+":"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSFILE", pass)
	d, err = Open(ctx, noPassword)
	if err != nil {
		t.Fatalf("with PGPASSFILE: %v", err)
	}
	d.Close()
}
