-- Challenges, their files and submissions (package challenge describes
-- them). IF NOT EXISTS: until the migration numbers before 0005 exist the
-- tables are created at first use (postgres/challenge.go).
CREATE TABLE IF NOT EXISTS challenges (
    id         BIGSERIAL PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    spec       TEXT    NOT NULL,          -- JSON: title, description, organisers, phases, metrics, ranking, leaderboard, files
    created_by BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL           -- µs since the epoch
);

CREATE TABLE IF NOT EXISTS challenge_files (
    challenge_id BIGINT  NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('public', 'input', 'truth')),
    name         TEXT    NOT NULL,
    data         BYTEA    NOT NULL,
    PRIMARY KEY (challenge_id, kind, name)
);

CREATE TABLE IF NOT EXISTS challenge_submissions (
    id           BIGSERIAL PRIMARY KEY,
    challenge_id BIGINT  NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,
    phase        TEXT    NOT NULL,
    user_id      BIGINT  NOT NULL,
    user_name    TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    model        TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL,
    message      TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    scored_at    BIGINT ,
    scores       TEXT,                    -- JSON: metric key → mean
    images       TEXT,                    -- JSON: per-image scores
    data         BYTEA                     -- the predictions zip until scored
);

CREATE INDEX IF NOT EXISTS challenge_submissions_by_user ON challenge_submissions (challenge_id, user_id, phase, created_at);
