-- Asynchronous inference jobs (package jobs describes the columns).
CREATE TABLE infer_jobs (
    id            TEXT PRIMARY KEY,
    model_id      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    state         TEXT NOT NULL,
    done          INTEGER NOT NULL DEFAULT 0,
    total         INTEGER NOT NULL DEFAULT 0,
    message       TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    input_sha256  TEXT NOT NULL,
    input_size    INTEGER NOT NULL,
    input_format  TEXT NOT NULL,
    axes          TEXT NOT NULL DEFAULT '',
    result_sha256 TEXT NOT NULL DEFAULT '',
    result_size   INTEGER NOT NULL DEFAULT 0,
    runs          INTEGER NOT NULL DEFAULT 0,
    lease         TEXT NOT NULL DEFAULT '',
    lease_until   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    finished_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX infer_jobs_state ON infer_jobs (state, lease_until);
CREATE INDEX infer_jobs_expires ON infer_jobs (expires_at);
CREATE INDEX infer_jobs_input ON infer_jobs (input_sha256);
CREATE INDEX infer_jobs_result ON infer_jobs (result_sha256);
