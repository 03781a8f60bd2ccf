package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi"
)

// The doi.Store methods: minted DOIs in table version_dois (migration
// 0006). Contracts are on doi.Store.

var _ doi.Store = (*DB)(nil)

// VersionDOI returns the DOI recorded for version n of model id.
func (db *DB) VersionDOI(ctx context.Context, id string, n int) (string, error) {
	const op = "sqlite.VersionDOI"
	var d string
	err := db.read.QueryRowContext(ctx, `SELECT doi FROM version_dois WHERE model_id = ? AND version = ?`, id, n).Scan(&d)
	return d, dbError(op, err, "no DOI was minted for "+id+"/"+strconv.Itoa(n), "")
}

// SetVersionDOI records the DOI of version n of model id.
func (db *DB) SetVersionDOI(ctx context.Context, id string, n int, d string) error {
	const op = "sqlite.SetVersionDOI"
	if err := doi.CheckDOI(op, d); err != nil {
		return err
	}
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO version_dois (model_id, version, doi, minted_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (model_id, version) DO NOTHING`, id, n, d, micros(time.Now()))
		if err != nil {
			return dbError(op, err, "no version "+id+"/"+strconv.Itoa(n), "DOI "+d+" is already recorded for another version")
		}
		var have string
		if err := tx.QueryRowContext(ctx, `SELECT doi FROM version_dois WHERE model_id = ? AND version = ?`, id, n).Scan(&have); err != nil {
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
	const op = "sqlite.ModelDOIs"
	rows, err := db.read.QueryContext(ctx, `SELECT version, doi FROM version_dois WHERE model_id = ?`, id)
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
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbError(op, err, "", "")
	}
	return out, nil
}
