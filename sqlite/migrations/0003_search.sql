-- The search index (package search): one document per indexed version.
-- Which documents a search may return is decided at query time by joining
-- versions (the latest published, else retired, version of each model).

CREATE TABLE search_docs (
	id       INTEGER PRIMARY KEY,
	model_id TEXT    NOT NULL,
	number   INTEGER NOT NULL,
	facets   TEXT    NOT NULL, -- search.Doc.FacetString
	hit      TEXT    NOT NULL, -- search.Doc.HitJSON
	UNIQUE (model_id, number)
) STRICT;

CREATE TABLE search_facets (
	facet TEXT    NOT NULL,
	value TEXT    NOT NULL,
	doc   INTEGER NOT NULL REFERENCES search_docs (id) ON DELETE CASCADE,
	PRIMARY KEY (facet, value, doc)
) STRICT, WITHOUT ROWID;
CREATE INDEX search_facets_doc ON search_facets (doc);

-- rowid = search_docs.id
CREATE VIRTUAL TABLE search_fts USING fts5 (
	name, tags, authors, description, documentation,
	tokenize = 'porter unicode61'
);
