package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi"
)

// The doi.Store methods: minted DOIs in table version_dois (migration
// 0006). Contracts are on doi.Store.

var _ doi.Store = (*DB)(nil)

// VersionDOI returns the DOI recorded for version n of model id.
func (db *DB) VersionDOI(ctx context.Context, id string, n int) (string, error) {
	const op = "postgres.VersionDOI"
	var d string
	err := db.pool.QueryRow(ctx, `SELECT doi FROM version_dois WHERE model_id = $1 AND version = $2`, id, n).Scan(&d)
	return d, dbError(op, err, "no DOI was minted for "+id+"/"+strconv.Itoa(n), "")
}

// SetVersionDOI records the DOI of version n of model id. Concurrent
// calls with the same DOI all succeed: ON CONFLICT waits for the other
// transaction and the comparison reads what it committed.
func (db *DB) SetVersionDOI(ctx context.Context, id string, n int, d string) error {
	const op = "postgres.SetVersionDOI"
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
