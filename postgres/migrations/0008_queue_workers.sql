-- Live job workers (queue.Liveness): each working queue beats here under
-- its River client id; a job still running under a worker that has not
-- beaten for the lease is re-queued by another worker.
CREATE TABLE zoo_queue_workers (
    id      TEXT        PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL      -- the database's now() at the last heartbeat
);
