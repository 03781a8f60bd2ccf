package postgres

import (
	"context"
	"embed"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi"
)

// The doi.Store methods: minted DOIs in table version_dois (migration
// 0006). Contracts are on doi.Store.

var _ doi.Store = (*DB)(nil)

// doiSchema holds migration 0006 as .sql.pending (applied by doiTable)
// or, once renamed, as .sql (applied by migrate); the pattern matches
// both, so the rename needs no change here.
//
//go:embed migrations/0006_doi.sql*
var doiSchema embed.FS

var doiReady sync.Map // *DB → true once the table exists

// doiTable creates table version_dois while migration 0006 is not yet
// embedded as such (its number waits for 0004 and 0005); the schema is
// idempotent and created under an advisory lock, so replicas starting
// together do not race. A failure is retried on the next call.
func (db *DB) doiTable(ctx context.Context) error {
	if _, ok := doiReady.Load(db); ok {
		return nil
	}
	if _, err := fs.Stat(migrationFiles, "migrations/0006_doi.sql"); err != nil {
		schema, rerr := fs.ReadFile(doiSchema, "migrations/0006_doi.sql.pending")
		if rerr != nil {
			return zoo.E("postgres.doiTable", zoo.Internal, rerr, "")
		}
		err := db.tx(ctx, "postgres.doiTable", func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7206)`); err != nil {
				return dbError("postgres.doiTable", err, "", "")
			}
			_, err := tx.Exec(ctx, string(schema))
			return dbError("postgres.doiTable", err, "", "")
		})
		if err != nil {
			return err
		}
	}
	doiReady.Store(db, true)
	return nil
}

// VersionDOI returns the DOI recorded for version n of model id.
func (db *DB) VersionDOI(ctx context.Context, id string, n int) (string, error) {
	const op = "postgres.VersionDOI"
	if err := db.doiTable(ctx); err != nil {
		return "", err
	}
	var d string
	err := db.pool.QueryRow(ctx, `SELECT doi FROM version_dois WHERE model_id = $1 AND version = $2`, id, n).Scan(&d)
	return d, dbError(op, err, "no DOI was minted for "+id+"/"+strconv.Itoa(n), "")
}

// SetVersionDOI records the DOI of version n of model id. Concurrent
// calls with the same DOI all succeed: ON CONFLICT waits for the other
// transaction and the comparison reads what it committed.
func (db *DB) SetVersionDOI(ctx context.Context, id string, n int, d string) error {
	const op = "postgres.SetVersionDOI"
	if err := db.doiTable(ctx); err != nil {
		return err
	}
	if err := doi.CheckDOI(op, d); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO version_dois (model_id, version, doi, minted_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (model_id, version) DO NOTHING`, id, n, d, time.Now())
		if err != nil {
			return dbError(op, err, "no version "+id+"/"+strconv.Itoa(n), "DOI "+d+" is already recorded for another version")
		}
		var have string
		if err := tx.QueryRow(ctx, `SELECT doi FROM version_dois WHERE model_id = $1 AND version = $2`, id, n).Scan(&have); err != nil {
			return dbError(op, err, "", "")
		}
		if !strings.EqualFold(have, d) {
			return zoo.E(op, zoo.Conflict, nil, "version %s/%d already has the DOI %s", id, n, have)
		}
		return nil
	})
}

// ModelDOIs returns the recorded DOIs of model id's versions.
func (db *DB) ModelDOIs(ctx context.Context, id string) (map[int]string, error) {
	const op = "postgres.ModelDOIs"
	if err := db.doiTable(ctx); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT version, doi FROM version_dois WHERE model_id = $1`, id)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var n int
		var d string
		if err := rows.Scan(&n, &d); err != nil {
			return nil, dbError(op, err, "", "")
		}
		out[n] = d
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	return out, nil
}
