// Package postgres is zoo's scaled-out storage: the zoo.Catalog and the job
// queue in one PostgreSQL database (pgx v5, pgxpool) shared by stateless
// web replicas and workers. Package sqlite is the same contract for one
// machine; both pass catalog/catalogtest and queue/queuetest. A DB also
// stores the web pages' login sessions (session.Store, in session.go; suite
// session/sessiontest), so every replica knows every session.
//
// # Concurrency
//
// Every Catalog method is one transaction (or one statement) at READ
// COMMITTED. Where a method reads and then writes, a row lock orders
// concurrent callers: CreateVersion takes the next number with UPDATE
// models … RETURNING (replicas uploading to one model wait for each other;
// uploads to different models do not), Transition reads the state with
// SELECT … FOR UPDATE, so of two reviewers racing on one version the second
// sees the first's result and gets zoo.Conflict. Reserving a used model id
// twice meets the primary key of used_ids (Conflict): a new model's id is
// reserved in the transaction of its first version, so of two uploads
// drawing the same nickname the second waits for the first and then draws
// again.
//
// # Migrations
//
// Open applies the catalog's numbered migrations in one transaction, then
// River's migrations, all under an advisory lock, so replicas starting
// together migrate once and never see half a catalog schema.
package postgres

import (
	"context"
	"embed"
	"errors"
	"io"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/queue"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key Open holds while migrating
// ("zoo.migr" in ASCII).
const migrationLock int64 = 0x7a6f6f2e6d696772

// DB is a catalog and job queue in a PostgreSQL database. It implements
// zoo.Catalog and is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
}

var _ zoo.Catalog = (*DB)(nil)

// Open connects to dsn (a postgres:// URL or key=value string; pgxpool
// settings such as pool_max_conns may be added) and, by default
// (catalog.MigrateAll), brings the catalog's and River's schemas up to
// date; mode (optional) says otherwise (see catalog.MigrateMode). A
// database newer than this binary is always refused.
func Open(ctx context.Context, dsn string, mode ...catalog.MigrateMode) (*DB, error) {
	const op = "postgres.Open"
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "bad PostgreSQL DSN")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "")
	}
	db := &DB{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, dbError(op, err, "", "")
	}
	if err := db.migrate(ctx, catalog.Mode(mode)); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies every pending migration (the catalog's, then River's)
// and returns the names of the catalog's it applied: zoo migrate.
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
	return before.Pending, nil
}

// Schema reports the database's migration state.
func (db *DB) Schema(ctx context.Context) (*catalog.Schema, error) {
	const op = "postgres.Schema"
	all, err := catalogMigrations()
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "")
	}
	applied, err := appliedMigrations(ctx, db.pool)
	if err != nil {
		return nil, err
	}
	qp, err := queue.PendingMigrations(ctx, riverpgxv5.New(db.pool))
	if err != nil {
		return nil, err
	}
	return catalog.NewSchema("postgres", all, applied, qp), nil
}

func catalogMigrations() ([]catalog.Migration, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return catalog.Migrations(dir)
}

// rowQuerier is a pool, connection or transaction.
type rowQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appliedMigrations reads schema_migrations (none when it does not exist).
func appliedMigrations(ctx context.Context, q rowQuerier) ([]catalog.Applied, error) {
	const op = "postgres.Schema"
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, dbError(op, err, "", "")
	}
	if !exists {
		return nil, nil
	}
	rows, _ := q.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Applied, error) {
		var a catalog.Applied
		err := r.Scan(&a.Version, &a.Name, &a.AppliedAt)
		a.AppliedAt = a.AppliedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	return out, nil
}

// Close closes the connection pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrate applies the pending catalog migrations in one transaction, then
// River's, holding a session advisory lock throughout so that replicas
// opening together migrate one at a time — or, by mode, only checks
// (catalog.Decide). River's versions each run in a transaction of their
// own: one of them adds an enum value and uses it, which PostgreSQL
// refuses within a single transaction.
func (db *DB) migrate(ctx context.Context, mode catalog.MigrateMode) error {
	const op = "postgres.Open"
	all, err := catalogMigrations()
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	if mode == catalog.MigrateOff {
		return nil
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return dbError(op, err, "", "")
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return dbError(op, err, "", "")
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)

	queuePending := 0
	if mode == catalog.MigrateCheck || mode == catalog.MigrateFresh {
		if queuePending, err = queue.PendingMigrations(ctx, riverpgxv5.New(db.pool)); err != nil {
			return err
		}
	}
	migrated := false
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		have, err := appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		applied := map[int]bool{}
		for _, a := range have {
			applied[a.Version] = true
		}
		pending, err := catalog.Decide(all, applied, mode, queuePending)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		migrated = true
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return dbError(op, err, "", "")
		}
		for _, m := range pending {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return zoo.E(op, zoo.Internal, err, "migration %s failed", m.Name)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, catalog.Now()); err != nil {
				return dbError(op, err, "", "")
			}
		}
		return nil
	})
	if err != nil {
		return dbError(op, err, "", "")
	}
	if mode == catalog.MigrateAll || migrated {
		return queue.Migrate(ctx, riverpgxv5.New(db.pool))
	}
	return nil
}

// tx runs fn in a transaction and commits it if fn returns nil. fn returns
// translated errors.
func (db *DB) tx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return dbError(op, err, "", "")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return dbError(op, tx.Commit(ctx), "", "")
}

// dbError translates a driver error, once, where it enters: no rows and
// foreign-key violations become NotFound with the notFound message, unique
// violations Conflict with the conflict message, a context that ended or a
// server that is down, unreachable, shutting down or out of connections
// Unavailable (see unreachable), anything else Internal. A *zoo.Error
// (and nil) passes through unchanged.
func dbError(op string, err error, notFound, conflict string) error {
	var ze *zoo.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ze):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return zoo.E(op, zoo.NotFound, nil, "%s", orDefault(notFound, "not found"))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return zoo.E(op, zoo.Unavailable, err, "the database did not answer in time; try again")
	case unreachable(err):
		return zoo.E(op, zoo.Unavailable, err, "the database cannot be reached; try again later")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return zoo.E(op, zoo.Conflict, err, "%s", orDefault(conflict, "already exists"))
		case "23503": // foreign_key_violation
			return zoo.E(op, zoo.NotFound, err, "%s", orDefault(notFound, "a referenced record does not exist"))
		case "53300", "57P01", "57P02", "57P03": // too_many_connections, admin_shutdown, crash_shutdown, cannot_connect_now
			return zoo.E(op, zoo.Unavailable, err, "the database is unavailable; try again")
		}
		if strings.HasPrefix(pe.Code, "08") { // connection_exception
			return zoo.E(op, zoo.Unavailable, err, "the database connection failed; try again")
		}
	}
	return zoo.E(op, zoo.Internal, err, "")
}

// unreachable reports whether err says the server could not be reached or
// the connection broke: a failed connection attempt, a refused or reset
// connection (zoo.Unreachable), a connection that ended in the middle of
// an answer, or an error pgx raised before sending anything.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || zoo.Unreachable(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || pgconn.SafeToRetry(err)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
