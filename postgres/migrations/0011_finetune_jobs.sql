-- Fine-tuning jobs (package finetune/ftjob): the whole record as JSON in
-- record; the columns beside it are copies for the queries: owner and
-- state (per-user limits), created_at, expires_at (Unix ms; 0 when the
-- owner keeps the data or it was deleted) and the blobs the job still
-- refers to (zoo gc keeps them).
CREATE TABLE finetune_jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    data_sha256 TEXT NOT NULL,
    checkpoint_sha256 TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX finetune_jobs_owner ON finetune_jobs (owner, created_at);
CREATE INDEX finetune_jobs_expires ON finetune_jobs (expires_at);
