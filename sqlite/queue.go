package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/zoo-bioimage/zoo/queue"
)

// workersTable is the queue file's record of live workers (see
// queue.Liveness). It lives in the queue file beside River's tables, which
// River's migrations own, so it is created here rather than by a numbered
// catalog migration.
const workersTable = `CREATE TABLE IF NOT EXISTS zoo_queue_workers (
    id      TEXT PRIMARY KEY,
    seen_at REAL NOT NULL          -- unixepoch('subsec') of the last heartbeat
) STRICT`

// Queue returns a job queue on the queue file with opts (see package
// queue). Several queues may share the file, e.g. one that only enqueues
// and one that works, also from several processes; a working queue's
// heartbeat lets the others re-queue its jobs when it dies
// (queue.Liveness). Stop working queues before Close.
func (db *DB) Queue(opts queue.Options) (*queue.Queue, error) {
	if opts.Liveness == nil {
		opts.Liveness = liveness{db.jobs}
	}
	return queue.New(riversqlite.New(db.jobs), opts)
}

// liveness is queue.Liveness on the queue file.
type liveness struct{ db *sql.DB }

func (l liveness) Beat(ctx context.Context, id string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO zoo_queue_workers (id, seen_at) VALUES (?, unixepoch('subsec'))
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, id)
	return dbError("sqlite.Beat", err, "", "")
}

func (l liveness) Forget(ctx context.Context, id string, olderThan time.Duration) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM zoo_queue_workers WHERE id = ? OR seen_at < unixepoch('subsec') - ?`, id, olderThan.Seconds())
	return dbError("sqlite.Forget", err, "", "")
}

func (l liveness) Ages(ctx context.Context) (map[string]time.Duration, error) {
	const op = "sqlite.Ages"
	rows, err := l.db.QueryContext(ctx, `SELECT id, unixepoch('subsec') - seen_at FROM zoo_queue_workers`)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	out := map[string]time.Duration{}
	for rows.Next() {
		var id string
		var age float64
		if err := rows.Scan(&id, &age); err != nil {
			return nil, dbError(op, err, "", "")
		}
		out[id] = time.Duration(age * float64(time.Second))
	}
	return out, dbError(op, rows.Err(), "", "")
}

// Requeue writes times as River's SQLite driver does (datetime('now',
// 'subsec'), UTC text) and appends to its JSON columns as it does.
func (l liveness) Requeue(ctx context.Context, id int64, attempt int, discard bool, errJSON []byte) (bool, error) {
	res, err := l.db.ExecContext(ctx, `UPDATE river_job SET
		state = CASE WHEN ?3 THEN 'discarded' ELSE 'available' END,
		finalized_at = CASE WHEN ?3 THEN datetime('now', 'subsec') ELSE NULL END,
		scheduled_at = datetime('now', 'subsec'),
		errors = jsonb(json_insert(json(coalesce(errors, jsonb('[]'))), '$[#]', json(?4))),
		metadata = jsonb_set(metadata, '$."zoo:rescues"', coalesce(json_extract(metadata, '$."zoo:rescues"'), 0) + 1)
		WHERE id = ?1 AND state = 'running' AND attempt = ?2`, id, attempt, discard, string(errJSON))
	if err != nil {
		return false, dbError("sqlite.Requeue", err, "", "")
	}
	n, err := res.RowsAffected()
	return n == 1, dbError("sqlite.Requeue", err, "", "")
}
