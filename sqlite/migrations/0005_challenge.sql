-- Challenges, their files and submissions (package challenge describes
-- them). IF NOT EXISTS: until the migration numbers before 0005 exist the
-- tables are created at first use (sqlite/challenge.go).
CREATE TABLE IF NOT EXISTS challenges (
    id         INTEGER PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    spec       TEXT    NOT NULL,          -- JSON: title, description, organisers, phases, metrics, ranking, leaderboard, files
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL           -- µs since the epoch
) STRICT;

CREATE TABLE IF NOT EXISTS challenge_files (
    challenge_id INTEGER NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('public', 'input', 'truth')),
    name         TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    PRIMARY KEY (challenge_id, kind, name)
) STRICT;

CREATE TABLE IF NOT EXISTS challenge_submissions (
    id           INTEGER PRIMARY KEY,
    challenge_id INTEGER NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,
    phase        TEXT    NOT NULL,
    user_id      INTEGER NOT NULL,
    user_name    TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    model        TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL,
    message      TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    scored_at    INTEGER,
    scores       TEXT,                    -- JSON: metric key → mean
    images       TEXT,                    -- JSON: per-image scores
    data         BLOB                     -- the predictions zip until scored
) STRICT;

CREATE INDEX IF NOT EXISTS challenge_submissions_by_user ON challenge_submissions (challenge_id, user_id, phase, created_at);
