package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/zoo-bioimage/zoo/queue"
)

// Queue returns a job queue in this database with opts (see package
// queue). Working queues beat in zoo_queue_workers (migration 0008) so
// that the others re-queue their jobs when they die (queue.Liveness).
// Stop working queues before Close.
func (db *DB) Queue(opts queue.Options) (*queue.Queue, error) {
	if opts.Liveness == nil {
		opts.Liveness = liveness{db.pool}
	}
	return queue.New(riverpgxv5.New(db.pool), opts)
}

// liveness is queue.Liveness on the database, by its clock (now()), so
// that the hosts' clocks do not matter.
type liveness struct{ pool *pgxpool.Pool }

func (l liveness) Beat(ctx context.Context, id string) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO zoo_queue_workers (id, seen_at) VALUES ($1, now())
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, id)
	return dbError("postgres.Beat", err, "", "")
}

func (l liveness) Forget(ctx context.Context, id string, olderThan time.Duration) error {
	_, err := l.pool.Exec(ctx, `DELETE FROM zoo_queue_workers WHERE id = $1 OR seen_at < now() - make_interval(secs => $2)`, id, olderThan.Seconds())
	return dbError("postgres.Forget", err, "", "")
}

func (l liveness) Ages(ctx context.Context) (map[string]time.Duration, error) {
	const op = "postgres.Ages"
	rows, err := l.pool.Query(ctx, `SELECT id, extract(epoch FROM now() - seen_at)::float8 FROM zoo_queue_workers`)
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

func (l liveness) Requeue(ctx context.Context, id int64, attempt int, discard bool, errJSON []byte) (bool, error) {
	tag, err := l.pool.Exec(ctx, `UPDATE river_job SET
		state = CASE WHEN $3 THEN 'discarded'::river_job_state ELSE 'available'::river_job_state END,
		finalized_at = CASE WHEN $3 THEN now() ELSE NULL END,
		scheduled_at = now(),
		errors = array_append(errors, $4::jsonb),
		metadata = metadata || jsonb_build_object('zoo:rescues', coalesce((metadata->>'zoo:rescues')::int, 0) + 1)
		WHERE id = $1 AND state = 'running' AND attempt = $2`, id, attempt, discard, string(errJSON))
	if err != nil {
		return false, dbError("postgres.Requeue", err, "", "")
	}
	return tag.RowsAffected() == 1, nil
}
