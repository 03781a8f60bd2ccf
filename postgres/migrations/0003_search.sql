-- The search index (package search): one document per indexed version.
-- Which documents a search may return is decided at query time by joining
-- versions (the latest published, else retired, version of each model).

-- English stemming without stop words, like SQLite's FTS5 'porter
-- unicode61': every word of a query is searchable ("and", "not", "near").
CREATE TEXT SEARCH DICTIONARY zoo_search_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION zoo_search (COPY = english);
ALTER TEXT SEARCH CONFIGURATION zoo_search
	ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH zoo_search_stem;

CREATE TABLE search_docs (
	id       bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	model_id text     NOT NULL,
	number   integer  NOT NULL,
	facets   text     NOT NULL, -- search.Doc.FacetString
	hit      text     NOT NULL, -- search.Doc.HitJSON
	tsv      tsvector NOT NULL, -- name A, tags B, authors and description C, documentation D (zoo_search)
	UNIQUE (model_id, number)
);
CREATE INDEX search_docs_tsv ON search_docs USING gin (tsv);

CREATE TABLE search_facets (
	facet text   NOT NULL,
	value text   NOT NULL,
	doc   bigint NOT NULL REFERENCES search_docs (id) ON DELETE CASCADE,
	PRIMARY KEY (facet, value, doc)
);
CREATE INDEX search_facets_doc ON search_facets (doc);
