-- The catalog schema; described in prose in package catalog (catalog/doc.go).
-- Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE users (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT    NOT NULL UNIQUE,
	role       TEXT    NOT NULL CHECK (role IN ('contributor', 'reviewer', 'admin')),
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	hash       TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE used_ids (
	id      TEXT    PRIMARY KEY,
	used_at INTEGER NOT NULL
) STRICT;

CREATE TABLE models (
	id           TEXT    PRIMARY KEY REFERENCES used_ids (id),
	type         TEXT    NOT NULL,
	owner_id     INTEGER NOT NULL REFERENCES users (id),
	last_version INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE maintainers (
	model_id TEXT    NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	user_id  INTEGER NOT NULL REFERENCES users (id),
	PRIMARY KEY (model_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE versions (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	model_id          TEXT    NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	number            INTEGER NOT NULL,
	state             TEXT    NOT NULL CHECK (state IN ('draft', 'submitted', 'changes-requested', 'published', 'rejected', 'retired')),
	test_status       TEXT    NOT NULL CHECK (test_status IN ('pending', 'passed', 'failed', 'not-supported')),
	uploader_id       INTEGER NOT NULL REFERENCES users (id),
	name              TEXT    NOT NULL,
	description       TEXT    NOT NULL,
	format_version    TEXT    NOT NULL,
	description_file  TEXT    NOT NULL,
	package_sha256    TEXT    NOT NULL,
	package_size      INTEGER NOT NULL,
	validation_report TEXT,
	test_report       TEXT,
	review_comment    TEXT    NOT NULL DEFAULT '',
	retired_reason    TEXT    NOT NULL DEFAULT '',
	created_at        INTEGER NOT NULL,
	published_at      INTEGER,
	UNIQUE (model_id, number)
) STRICT;
CREATE INDEX versions_state ON versions (state, id);

CREATE TABLE files (
	version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
	path       TEXT    NOT NULL,
	sha256     TEXT    NOT NULL,
	size       INTEGER NOT NULL,
	PRIMARY KEY (version_id, path)
) STRICT, WITHOUT ROWID;

CREATE TABLE downloads (
	version_id INTEGER PRIMARY KEY REFERENCES versions (id) ON DELETE CASCADE,
	count      INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_log (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	at       INTEGER NOT NULL,
	actor_id INTEGER NOT NULL,
	action   TEXT    NOT NULL,
	model_id TEXT    NOT NULL DEFAULT '',
	version  INTEGER NOT NULL DEFAULT 0,
	detail   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_model ON audit_log (model_id, id);
