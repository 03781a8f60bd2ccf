// Package sqlite is zoo's embedded storage: the zoo.Catalog in one SQLite
// file (modernc.org/sqlite, pure Go, no cgo) and the job queue in a second
// file beside it. It is what `zoo serve` uses for one lab on one machine;
// package postgres is the same contract for replicas sharing a database.
// A DB also stores the web pages' login sessions (session.Store, in
// session.go; suite session/sessiontest).
//
// # Connections
//
// SQLite lets one writer in at a time. A DB therefore writes through a
// single connection whose transactions begin IMMEDIATE (they take the write
// lock at BEGIN, so a transaction never has to upgrade a read lock and fail
// with SQLITE_BUSY half-way), and reads through a pool of read-only
// connections that run in parallel with the writer (WAL). Writers of this
// process queue in Go for the one connection; another process that opens
// the same file waits up to busy_timeout (5 s) for the lock, then gets
// zoo.Unavailable. Foreign keys are enforced on every connection.
//
// Connections run with busy_timeout(5000), journal_mode(WAL),
// foreign_keys(1) and synchronous(NORMAL) unless the DSN sets the same
// pragma (e.g. "file:zoo.db?_pragma=synchronous(FULL)"). NORMAL in WAL
// mode never corrupts the file, but a power cut (not a crash of zoo) may
// lose the last commits before a checkpoint; FULL syncs every commit.
//
// # The queue file
//
// River's SQLite driver needs a handle with a single connection (its
// maintenance services run in parallel and would otherwise collide), and
// polls for jobs. Sharing the catalog's writer would serialise catalog
// writes behind job polling, so the jobs live in their own file: for the
// catalog zoo.db, zoo.queue.db in the same folder (see QueuePath). Open
// creates and migrates both.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/queue"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a catalog in a SQLite file, with its job queue beside it. It
// implements zoo.Catalog and is safe for concurrent use.
type DB struct {
	path  string
	write *sql.DB // one connection; every write transaction goes through it
	read  *sql.DB // read-only connections
	jobs  *sql.DB // the queue file, one connection (River's SQLite driver)

	// Hot reads, prepared once: parsing the SQL costs more than running it.
	versionStmt, latestStmt, filesStmt *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var _ zoo.Catalog = (*DB)(nil)

// Open opens (creating if needed) the catalog at dsn — a file path such as
// "zoo.db", or a "file:" URI whose query parameters are passed to the
// driver — and the queue file beside it (QueuePath), and brings both
// schemas up to date: the catalog's numbered migrations in one
// transaction, then River's. mode (optional, default catalog.MigrateAll)
// may say otherwise for the catalog (the queue file, private to the
// instance, is always migrated); a catalog newer than this binary is
// always refused. In-memory databases are refused: the readers, the
// writer and other processes must see one file.
func Open(ctx context.Context, dsn string, mode ...catalog.MigrateMode) (*DB, error) {
	const op = "sqlite.Open"
	path, params, err := parseDSN(dsn)
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "bad SQLite DSN %q", dsn)
	}
	db := &DB{path: path}
	fail := func(err error) (*DB, error) {
		db.Close()
		return nil, err
	}

	db.write, err = openPool(path, params, 1, "_txlock=immediate")
	if err != nil {
		return fail(zoo.E(op, zoo.Internal, err, "cannot open %s", path))
	}
	m := catalog.Mode(mode)
	if err := db.migrate(ctx, m); err != nil {
		return fail(err)
	}
	db.read, err = openPool(path, params, max(4, runtime.GOMAXPROCS(0)), "_query_only=1")
	if err != nil {
		return fail(zoo.E(op, zoo.Internal, err, "cannot open %s", path))
	}
	if m != catalog.MigrateOff { // an old schema may lack what the statements read
		if err := db.prepare(ctx); err != nil {
			return fail(err)
		}
	}

	qpath := QueuePath(path)
	db.jobs, err = openPool(qpath, params, 1, "_txlock=immediate")
	if err != nil {
		return fail(zoo.E(op, zoo.Internal, err, "cannot open the queue file %s", qpath))
	}
	if err := queue.Migrate(ctx, riversqlite.New(db.jobs)); err != nil {
		return fail(zoo.E(op, zoo.Internal, err, "cannot set up the queue file %s", qpath))
	}
	if _, err := db.jobs.ExecContext(ctx, workersTable); err != nil {
		return fail(zoo.E(op, zoo.Internal, err, "cannot set up the queue file %s", qpath))
	}
	return db, nil
}

// Path is the catalog's file.
func (db *DB) Path() string { return db.path }

// Close closes the catalog and the queue file. Stop the queue's workers
// first.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		var errs []error
		for _, st := range []*sql.Stmt{db.versionStmt, db.latestStmt, db.filesStmt} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		for _, h := range []*sql.DB{db.jobs, db.read, db.write} {
			if h != nil {
				errs = append(errs, h.Close())
			}
		}
		if err := errors.Join(errs...); err != nil {
			db.closeErr = zoo.E("sqlite.Close", zoo.Internal, err, "")
		}
	})
	return db.closeErr
}

// QueuePath is the queue file of the catalog at path: "zoo.db" →
// "zoo.queue.db", "catalog" → "catalog.queue".
func QueuePath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".queue" + ext
}

// parseDSN splits a path or "file:" URI into the path and its query.
func parseDSN(dsn string) (string, url.Values, error) {
	path, rawQuery, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", nil, err
	}
	if path == "" || path == ":memory:" || params.Get("mode") == "memory" {
		return "", nil, fmt.Errorf("a catalog needs a file; in-memory databases are not shared between connections")
	}
	return path, params, nil
}

// pragmas every connection runs, unless the DSN sets the same pragma.
var pragmas = []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"}

// openPool opens a pool of at most n connections to path with the DSN's
// parameters, the default pragmas and extra parameters ("key=value").
func openPool(path string, params url.Values, n int, extra ...string) (*sql.DB, error) {
	q := url.Values{}
	for k, v := range params {
		q[k] = append([]string(nil), v...)
	}
	for _, p := range pragmas {
		name, _, _ := strings.Cut(p, "(")
		set := false
		for _, have := range q["_pragma"] {
			set = set || strings.HasPrefix(strings.ToLower(strings.TrimSpace(have)), name)
		}
		if !set {
			q.Add("_pragma", p)
		}
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		q.Set(k, v)
	}
	h, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	h.SetMaxOpenConns(n)
	h.SetMaxIdleConns(n)
	h.SetConnMaxLifetime(0)
	h.SetConnMaxIdleTime(0)
	if err := h.Ping(); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// migrate applies the pending catalog migrations in one transaction.
func (db *DB) migrate(ctx context.Context, mode catalog.MigrateMode) error {
	const op = "sqlite.Open"
	all, err := catalogMigrations()
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	if mode == catalog.MigrateOff {
		return nil
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		have, err := appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		applied := map[int]bool{}
		for _, a := range have {
			applied[a.Version] = true
		}
		pending, err := catalog.Decide(all, applied, mode, 0)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`); err != nil {
			return dbError(op, err, "", "")
		}
		for _, m := range pending {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return zoo.E(op, zoo.Internal, err, "migration %s failed", m.Name)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, catalog.Now().UnixMicro()); err != nil {
				return dbError(op, err, "", "")
			}
		}
		return nil
	})
}

func catalogMigrations() ([]catalog.Migration, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return catalog.Migrations(dir)
}

// appliedMigrations reads schema_migrations (none when it does not exist).
func appliedMigrations(ctx context.Context, tx *sql.Tx) ([]catalog.Applied, error) {
	const op = "sqlite.Schema"
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, dbError(op, err, "", "")
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []catalog.Applied
	for rows.Next() {
		var a catalog.Applied
		var at int64
		if err := rows.Scan(&a.Version, &a.Name, &at); err != nil {
			return nil, dbError(op, err, "", "")
		}
		a.AppliedAt = time.UnixMicro(at).UTC()
		out = append(out, a)
	}
	return out, dbError(op, rows.Err(), "", "")
}

// Schema reports the catalog's migration state (the queue file is
// migrated at every Open).
func (db *DB) Schema(ctx context.Context) (*catalog.Schema, error) {
	all, err := catalogMigrations()
	if err != nil {
		return nil, zoo.E("sqlite.Schema", zoo.Internal, err, "")
	}
	var applied []catalog.Applied
	if err := db.tx(ctx, "sqlite.Schema", func(tx *sql.Tx) error {
		applied, err = appliedMigrations(ctx, tx)
		return err
	}); err != nil {
		return nil, err
	}
	return catalog.NewSchema("sqlite", all, applied, 0), nil
}

// Migrate applies every pending catalog migration and returns their names
// (zoo migrate); a DB opened with catalog.MigrateOff is then usable.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	before, err := db.Schema(ctx)
	if err != nil {
		return nil, err
	}
	if before.Newer {
		_, err := catalog.Pending(nil, map[int]bool{before.Current: true})
		return nil, err
	}
	if err := db.migrate(ctx, catalog.MigrateAll); err != nil {
		return nil, err
	}
	if db.versionStmt == nil {
		if err := db.prepare(ctx); err != nil {
			return nil, err
		}
	}
	return before.Pending, nil
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE on the writer
// connection) and commits it if fn returns nil. fn returns translated
// errors.
func (db *DB) tx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return dbError(op, err, "", "")
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError(op, err, "", "")
	}
	return nil
}

// dbError translates a driver error, once, where it enters: no rows and
// foreign-key violations become NotFound with the notFound message, unique
// and primary-key violations Conflict with the conflict message, a busy
// database or a context that ended Unavailable, anything else Internal. A
// *zoo.Error (and nil) passes through unchanged.
func dbError(op string, err error, notFound, conflict string) error {
	var ze *zoo.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ze):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return zoo.E(op, zoo.NotFound, nil, "%s", orDefault(notFound, "not found"))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return zoo.E(op, zoo.Unavailable, err, "the database did not answer in time; try again")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return zoo.E(op, zoo.Conflict, err, "%s", orDefault(conflict, "already exists"))
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return zoo.E(op, zoo.NotFound, err, "%s", orDefault(notFound, "a referenced record does not exist"))
		}
		if se.Code()&0xff == sqlite3.SQLITE_BUSY {
			return zoo.E(op, zoo.Unavailable, err, "the database is busy; try again")
		}
	}
	return zoo.E(op, zoo.Internal, err, "")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
