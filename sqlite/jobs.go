package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs"
)

// Jobs returns the store of inference jobs (table infer_jobs, migration
// 0004; see package jobs).
func (db *DB) Jobs() jobs.Store { return jobStore{db} }

type jobStore struct{ db *DB }

func (s jobStore) CreateJob(ctx context.Context, j *jobs.Job) error {
	_, err := s.db.write.ExecContext(ctx, `INSERT INTO infer_jobs (`+jobs.Columns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		j.ID, j.ModelID, j.Version, string(jobs.Queued), j.Done, j.Total, j.Message, j.Error,
		j.InputSHA256, j.InputSize, j.InputFormat, j.Axes, j.ResultSHA256, j.ResultSize, 0,
		"", 0, jobs.Millis(j.CreatedAt), jobs.Millis(j.CreatedAt), jobs.Millis(j.ExpiresAt), 0)
	return dbError("sqlite.CreateJob", err, "", "a job with this id exists")
}

func (s jobStore) Job(ctx context.Context, id string) (*jobs.Job, error) {
	j, err := jobs.Scan(s.db.read.QueryRowContext(ctx, `SELECT `+jobs.Columns+` FROM infer_jobs WHERE id = ?`, id))
	return j, dbError("sqlite.Job", err, "no job "+id+" (it may have expired)", "")
}

// jobUpdate runs a conditional update and returns the job after it, or
// Conflict when the condition did not hold (NotFound without the job).
func (s jobStore) jobUpdate(ctx context.Context, op, id, conflict, query string, args ...any) (*jobs.Job, error) {
	var j *jobs.Job
	err := s.db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return dbError(op, err, "", "")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbError(op, err, "", "")
		}
		j, err = jobs.Scan(tx.QueryRowContext(ctx, `SELECT `+jobs.Columns+` FROM infer_jobs WHERE id = ?`, id))
		if err != nil {
			return dbError(op, err, "no job "+id, "")
		}
		if n == 0 {
			return zoo.E(op, zoo.Conflict, nil, "job %s is %s: %s", id, j.State, conflict)
		}
		return nil
	})
	return j, err
}

func (s jobStore) ClaimJob(ctx context.Context, id, lease string, now, until time.Time) (*jobs.Job, error) {
	return s.jobUpdate(ctx, "sqlite.ClaimJob", id, "not claimable", `UPDATE infer_jobs SET state = 'running', lease = ?, lease_until = ?, runs = runs + 1, updated_at = ?
		WHERE id = ? AND (state = 'queued' OR (state = 'running' AND lease_until < ?))`,
		lease, jobs.Millis(until), jobs.Millis(now), id, jobs.Millis(now))
}

func (s jobStore) Heartbeat(ctx context.Context, id, lease string, p jobs.Progress, now, until time.Time) error {
	_, err := s.jobUpdate(ctx, "sqlite.Heartbeat", id, "the lease was lost", `UPDATE infer_jobs SET done = ?, total = ?, message = ?, lease_until = ?, updated_at = ?
		WHERE id = ? AND state = 'running' AND lease = ?`,
		p.Done, p.Total, p.Message, jobs.Millis(until), jobs.Millis(now), id, lease)
	return err
}

func (s jobStore) FinishJob(ctx context.Context, id, lease string, f jobs.Finish, now time.Time) error {
	_, err := s.jobUpdate(ctx, "sqlite.FinishJob", id, "the lease was lost", `UPDATE infer_jobs SET state = ?, result_sha256 = ?, result_size = ?, error = ?, message = ?,
		lease = '', lease_until = 0, updated_at = ?, finished_at = ?
		WHERE id = ? AND state = 'running' AND lease = ?`,
		string(f.State), f.ResultSHA256, f.ResultSize, f.Error, f.Message, jobs.Millis(now), jobs.Millis(now), id, lease)
	return err
}

func (s jobStore) ReleaseJob(ctx context.Context, id, lease, message string, now time.Time) error {
	_, err := s.jobUpdate(ctx, "sqlite.ReleaseJob", id, "the lease was lost", `UPDATE infer_jobs SET state = 'queued', message = ?, lease = '', lease_until = 0, updated_at = ?
		WHERE id = ? AND state = 'running' AND lease = ?`,
		message, jobs.Millis(now), id, lease)
	return err
}

func (s jobStore) CancelJob(ctx context.Context, id string, now time.Time) (*jobs.Job, error) {
	j, err := s.jobUpdate(ctx, "sqlite.CancelJob", id, "", `UPDATE infer_jobs SET state = 'cancelled', message = 'cancelled', lease = '', lease_until = 0, updated_at = ?, finished_at = ?
		WHERE id = ? AND state IN ('queued', 'running')`,
		jobs.Millis(now), jobs.Millis(now), id)
	if zoo.KindOf(err) == zoo.Conflict {
		return j, nil
	}
	return j, err
}

func (s jobStore) ActiveJobs(ctx context.Context) (int, error) {
	var n int
	err := s.db.read.QueryRowContext(ctx, `SELECT count(*) FROM infer_jobs WHERE state IN ('queued', 'running')`).Scan(&n)
	return n, dbError("sqlite.ActiveJobs", err, "", "")
}

func (s jobStore) RequeueStale(ctx context.Context, now time.Time, limit int) ([]string, error) {
	const op = "sqlite.RequeueStale"
	var ids []string
	err := s.db.tx(ctx, op, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE infer_jobs SET state = 'queued', lease = '', lease_until = 0, updated_at = ?,
			message = 'its worker stopped answering; queued again'
			WHERE id IN (SELECT id FROM infer_jobs WHERE state = 'running' AND lease_until < ? LIMIT ?)
			AND state = 'running' AND lease_until < ? RETURNING id`,
			jobs.Millis(now), jobs.Millis(now), limit, jobs.Millis(now))
		if err != nil {
			return dbError(op, err, "", "")
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return dbError(op, err, "", "")
			}
			ids = append(ids, id)
		}
		return dbError(op, rows.Err(), "", "")
	})
	return ids, err
}

func (s jobStore) ExpireJobs(ctx context.Context, now time.Time, limit int) ([]*jobs.Job, error) {
	const op = "sqlite.ExpireJobs"
	var out []*jobs.Job
	err := s.db.tx(ctx, op, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+jobs.Columns+` FROM infer_jobs WHERE state != 'expired' AND expires_at < ? LIMIT ?`, jobs.Millis(now), limit)
		if err != nil {
			return dbError(op, err, "", "")
		}
		for rows.Next() {
			j, err := jobs.Scan(rows)
			if err != nil {
				rows.Close()
				return dbError(op, err, "", "")
			}
			out = append(out, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbError(op, err, "", "")
		}
		for _, j := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE infer_jobs SET state = 'expired', message = 'expired: input and result deleted', lease = '', lease_until = 0, updated_at = ?,
				finished_at = CASE WHEN finished_at = 0 THEN ? ELSE finished_at END WHERE id = ?`, jobs.Millis(now), jobs.Millis(now), j.ID); err != nil {
				return dbError(op, err, "", "")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s jobStore) DeleteExpired(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.write.ExecContext(ctx, `DELETE FROM infer_jobs WHERE state = 'expired' AND expires_at < ?`, jobs.Millis(before))
	if err != nil {
		return 0, dbError("sqlite.DeleteExpired", err, "", "")
	}
	n, err := res.RowsAffected()
	return int(n), dbError("sqlite.DeleteExpired", err, "", "")
}

func (s jobStore) BlobInUse(ctx context.Context, sha string) (bool, error) {
	var n int
	err := s.db.read.QueryRowContext(ctx, `SELECT count(*) FROM infer_jobs WHERE state != 'expired' AND (input_sha256 = ? OR result_sha256 = ?)`, sha, sha).Scan(&n)
	return n > 0, dbError("sqlite.BlobInUse", err, "", "")
}

func (s jobStore) JobBlobs(ctx context.Context, fn func(sha string) error) error {
	const op = "sqlite.JobBlobs"
	rows, err := s.db.read.QueryContext(ctx, `SELECT input_sha256, result_sha256 FROM infer_jobs WHERE state != 'expired'`)
	if err != nil {
		return dbError(op, err, "", "")
	}
	var shas []string
	for rows.Next() {
		var in, out string
		if err := rows.Scan(&in, &out); err != nil {
			rows.Close()
			return dbError(op, err, "", "")
		}
		shas = append(shas, in)
		if out != "" {
			shas = append(shas, out)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbError(op, err, "", "")
	}
	for _, sha := range shas {
		if err := fn(sha); err != nil {
			return err
		}
	}
	return nil
}
