-- Challenge edits, withdrawals and disqualifications (package challenge).
-- A withdrawn submission keeps its row (and its place in the limits);
-- a disqualification is cleared by reinstating (dq_at NULL again).
ALTER TABLE challenge_submissions ADD COLUMN withdrawn_at BIGINT;   -- µs since the epoch
ALTER TABLE challenge_submissions ADD COLUMN dq_reason    TEXT NOT NULL DEFAULT '';
ALTER TABLE challenge_submissions ADD COLUMN dq_by        TEXT NOT NULL DEFAULT '';
ALTER TABLE challenge_submissions ADD COLUMN dq_at        BIGINT;   -- set while disqualified

CREATE TABLE challenge_changes (
    id           BIGSERIAL PRIMARY KEY,
    challenge_id BIGINT  NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,
    user_name    TEXT    NOT NULL,
    at           BIGINT  NOT NULL,        -- µs since the epoch
    fields       TEXT    NOT NULL         -- JSON array of the changed fields
);

CREATE INDEX challenge_changes_by_challenge ON challenge_changes (challenge_id, id);
