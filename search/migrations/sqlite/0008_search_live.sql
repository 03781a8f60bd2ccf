-- search_live: the documents a search may show, one per model — the
-- document of the highest-numbered published version, else of the
-- highest-numbered retired one — with what a search reads of each match
-- (publication date, facets, the model's downloads), so that a search touches one narrow row per
-- match instead of joining versions and checking visibility per match.
-- It is kept exact by the triggers below, in the same transaction as every
-- write to versions, search_docs or downloads: the catalog cannot change a version's
-- state without the visible set following (no indexer call is needed),
-- and a draft never enters it. Filled here from the existing rows.

CREATE TABLE search_live (
	doc          INTEGER PRIMARY KEY, -- search_docs.id
	model_id     TEXT    NOT NULL,
	published_at INTEGER NOT NULL,    -- COALESCE(published_at, created_at) of the version, µs
	facets       TEXT    NOT NULL,    -- search_docs.facets
	downloads    INTEGER NOT NULL     -- the model's total downloads (all its versions)
) STRICT;
CREATE INDEX search_live_model ON search_live (model_id);

INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
	SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
	FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
	WHERE v.state IN ('published', 'retired')
	AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
		AND ((w.state = 'published') > (v.state = 'published')
			OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));

CREATE TRIGGER search_live_versions_insert AFTER INSERT ON versions BEGIN
	DELETE FROM search_live WHERE model_id = NEW.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = NEW.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
END;

CREATE TRIGGER search_live_versions_update AFTER UPDATE OF model_id, number, state, published_at, created_at ON versions BEGIN
	DELETE FROM search_live WHERE model_id = OLD.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = OLD.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
	DELETE FROM search_live WHERE model_id = NEW.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = NEW.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
END;

CREATE TRIGGER search_live_versions_delete AFTER DELETE ON versions BEGIN
	DELETE FROM search_live WHERE model_id = OLD.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = OLD.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
END;

CREATE TRIGGER search_live_docs_insert AFTER INSERT ON search_docs BEGIN
	DELETE FROM search_live WHERE model_id = NEW.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = NEW.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
END;

CREATE TRIGGER search_live_docs_update AFTER UPDATE OF model_id, number, facets ON search_docs BEGIN
	DELETE FROM search_live WHERE model_id = OLD.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = OLD.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
	DELETE FROM search_live WHERE model_id = NEW.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = NEW.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
END;

CREATE TRIGGER search_live_docs_delete AFTER DELETE ON search_docs BEGIN
	DELETE FROM search_live WHERE model_id = OLD.model_id;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id)
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = OLD.model_id AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
END;

CREATE TRIGGER search_live_downloads_insert AFTER INSERT ON downloads BEGIN
	UPDATE search_live SET downloads = (SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = search_live.model_id)
		WHERE model_id = (SELECT model_id FROM versions WHERE id = NEW.version_id);
END;

CREATE TRIGGER search_live_downloads_update AFTER UPDATE ON downloads BEGIN
	UPDATE search_live SET downloads = (SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = search_live.model_id)
		WHERE model_id IN (SELECT model_id FROM versions WHERE id IN (OLD.version_id, NEW.version_id));
END;

CREATE TRIGGER search_live_downloads_delete AFTER DELETE ON downloads BEGIN
	UPDATE search_live SET downloads = (SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = search_live.model_id)
		WHERE model_id = (SELECT model_id FROM versions WHERE id = OLD.version_id);
END;

-- search_live_gen counts the changes of search_live: a search that reads
-- search_live in parts (on several connections) checks that every part
-- saw the same count, i.e. the same state.
CREATE TABLE search_live_gen (n INTEGER NOT NULL) STRICT;
INSERT INTO search_live_gen (n) VALUES (0);
CREATE TRIGGER search_live_gen_insert AFTER INSERT ON search_live BEGIN UPDATE search_live_gen SET n = n + 1; END;
CREATE TRIGGER search_live_gen_update AFTER UPDATE ON search_live BEGIN UPDATE search_live_gen SET n = n + 1; END;
CREATE TRIGGER search_live_gen_delete AFTER DELETE ON search_live BEGIN UPDATE search_live_gen SET n = n + 1; END;

-- search_facet_counts: how many visible documents have each facet value,
-- i.e. the facet counts of the query without text and filters (browsing
-- the whole collection). Kept equal to
--   SELECT facet, value, count(*) FROM search_facets JOIN search_live ON doc GROUP BY facet, value
-- by triggers on both tables (whichever changes first), in the same
-- transaction; rows at 0 are removed. The row ('', '') counts the visible
-- documents.
CREATE TABLE search_facet_counts (
	facet TEXT    NOT NULL,
	value TEXT    NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (facet, value)
) STRICT, WITHOUT ROWID;
INSERT INTO search_facet_counts (facet, value, n)
	SELECT f.facet, f.value, count(*) FROM search_facets f JOIN search_live l ON l.doc = f.doc GROUP BY f.facet, f.value;
INSERT INTO search_facet_counts (facet, value, n) SELECT '', '', count(*) FROM search_live;
CREATE INDEX search_live_date ON search_live (published_at);

CREATE TRIGGER search_facet_counts_live_insert AFTER INSERT ON search_live BEGIN
	INSERT INTO search_facet_counts (facet, value, n) SELECT facet, value, 1 FROM search_facets WHERE doc = NEW.doc
		ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
	UPDATE search_facet_counts SET n = n + 1 WHERE facet = '' AND value = '';
END;
CREATE TRIGGER search_facet_counts_live_delete AFTER DELETE ON search_live BEGIN
	UPDATE search_facet_counts SET n = n - 1 WHERE facet = '' AND value = '';
	UPDATE search_facet_counts SET n = n - 1 WHERE (facet, value) IN (SELECT facet, value FROM search_facets WHERE doc = OLD.doc);
	DELETE FROM search_facet_counts WHERE n <= 0 AND (facet, value) IN (SELECT facet, value FROM search_facets WHERE doc = OLD.doc);
END;
CREATE TRIGGER search_facet_counts_facet_insert AFTER INSERT ON search_facets
	WHEN EXISTS (SELECT 1 FROM search_live WHERE doc = NEW.doc) BEGIN
	INSERT INTO search_facet_counts (facet, value, n) VALUES (NEW.facet, NEW.value, 1)
		ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER search_facet_counts_facet_delete AFTER DELETE ON search_facets
	WHEN EXISTS (SELECT 1 FROM search_live WHERE doc = OLD.doc) BEGIN
	UPDATE search_facet_counts SET n = n - 1 WHERE facet = OLD.facet AND value = OLD.value;
	DELETE FROM search_facet_counts WHERE facet = OLD.facet AND value = OLD.value AND n <= 0;
END;
