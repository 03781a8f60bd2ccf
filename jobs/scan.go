package jobs

// Columns are the infer_jobs columns every store selects and inserts, in
// the order Scan reads them (migration 0004 of both backends).
const Columns = `id, model_id, version, state, done, total, message, error, input_sha256, input_size, input_format, axes,
	result_sha256, result_size, runs, lease, lease_until, created_at, updated_at, expires_at, finished_at`

// Row is a database row of Columns (*sql.Row, *sql.Rows, pgx.Row, pgx.Rows).
type Row interface{ Scan(dest ...any) error }

// Scan reads a job from a row of Columns; times are stored as Millis.
func Scan(r Row) (*Job, error) {
	var j Job
	var state string
	var lease, created, updated, expires, finished int64
	if err := r.Scan(&j.ID, &j.ModelID, &j.Version, &state, &j.Done, &j.Total, &j.Message, &j.Error,
		&j.InputSHA256, &j.InputSize, &j.InputFormat, &j.Axes, &j.ResultSHA256, &j.ResultSize, &j.Runs,
		&j.Lease, &lease, &created, &updated, &expires, &finished); err != nil {
		return nil, err
	}
	j.State = State(state)
	j.LeaseUntil, j.CreatedAt, j.UpdatedAt = FromMillis(lease), FromMillis(created), FromMillis(updated)
	j.ExpiresAt, j.FinishedAt = FromMillis(expires), FromMillis(finished)
	return &j, nil
}
