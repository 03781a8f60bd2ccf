-- Kept as .pending (applied at first use by postgres/doi.go, idempotent) until
-- migrations 0004 and 0005 exist; then renamed to 0006_doi.sql.
-- DOIs minted for versions (package doi): at most one per version, each
-- DOI (compared case-insensitively) for at most one version.
CREATE TABLE IF NOT EXISTS version_dois (
	model_id  text        NOT NULL,
	version   integer     NOT NULL,
	doi       text        NOT NULL,
	minted_at timestamptz NOT NULL,
	PRIMARY KEY (model_id, version),
	FOREIGN KEY (model_id, version) REFERENCES versions (model_id, number) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS version_dois_doi ON version_dois (lower(doi));
