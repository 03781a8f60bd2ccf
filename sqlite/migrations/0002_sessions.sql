-- Web page login sessions (package session). Only the SHA-256 of a
-- session's cookie id is stored; a session ends with its expiry, when it
-- is deleted (logout, purge) or when the API token it was made with is
-- revoked (the join on tokens at every lookup).
CREATE TABLE sessions (
	id_hash    TEXT    PRIMARY KEY,
	token_id   INTEGER NOT NULL REFERENCES tokens (id),
	csrf       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_token ON sessions (token_id);
