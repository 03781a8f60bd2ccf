-- The catalog schema; described in prose in package catalog (catalog/doc.go).

CREATE TABLE users (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text        NOT NULL UNIQUE,
	role       text        NOT NULL CHECK (role IN ('contributor', 'reviewer', 'admin')),
	created_at timestamptz NOT NULL
);

CREATE TABLE tokens (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id    bigint      NOT NULL REFERENCES users (id),
	hash       text        NOT NULL UNIQUE,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE used_ids (
	id      text        PRIMARY KEY,
	used_at timestamptz NOT NULL
);

CREATE TABLE models (
	id           text        PRIMARY KEY REFERENCES used_ids (id),
	type         text        NOT NULL,
	owner_id     bigint      NOT NULL REFERENCES users (id),
	last_version integer     NOT NULL DEFAULT 0,
	created_at   timestamptz NOT NULL
);

CREATE TABLE maintainers (
	model_id text   NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	user_id  bigint NOT NULL REFERENCES users (id),
	PRIMARY KEY (model_id, user_id)
);

CREATE TABLE versions (
	id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model_id          text        NOT NULL REFERENCES models (id) ON DELETE CASCADE,
	number            integer     NOT NULL,
	state             text        NOT NULL CHECK (state IN ('draft', 'submitted', 'changes-requested', 'published', 'rejected', 'retired')),
	test_status       text        NOT NULL CHECK (test_status IN ('pending', 'passed', 'failed', 'not-supported')),
	uploader_id       bigint      NOT NULL REFERENCES users (id),
	name              text        NOT NULL,
	description       text        NOT NULL,
	format_version    text        NOT NULL,
	description_file  text        NOT NULL,
	package_sha256    text        NOT NULL,
	package_size      bigint      NOT NULL,
	validation_report json,
	test_report       json,
	review_comment    text        NOT NULL DEFAULT '',
	retired_reason    text        NOT NULL DEFAULT '',
	created_at        timestamptz NOT NULL,
	published_at      timestamptz,
	UNIQUE (model_id, number)
);
CREATE INDEX versions_state ON versions (state, id);

CREATE TABLE files (
	version_id bigint NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
	path       text   NOT NULL,
	sha256     text   NOT NULL,
	size       bigint NOT NULL,
	PRIMARY KEY (version_id, path)
);

CREATE TABLE downloads (
	version_id bigint PRIMARY KEY REFERENCES versions (id) ON DELETE CASCADE,
	count      bigint NOT NULL
);

CREATE TABLE audit_log (
	id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       timestamptz NOT NULL,
	actor_id bigint      NOT NULL,
	action   text        NOT NULL,
	model_id text        NOT NULL DEFAULT '',
	version  integer     NOT NULL DEFAULT 0,
	detail   text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_model ON audit_log (model_id, id);
