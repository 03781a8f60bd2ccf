-- search_live: the documents a search may show, one per model — the
-- document of the highest-numbered published version, else of the
-- highest-numbered retired one — with what a search reads of each match
-- (publication date, facets, the model's downloads, the text vector:
-- a scan of the visible documents does not read the stored hits), so that a search touches one narrow row per
-- match instead of joining versions and checking visibility per match.
-- It is kept exact by the triggers below, in the same transaction as every
-- write to versions, search_docs or downloads: the catalog cannot change a version's
-- state without the visible set following (no indexer call is needed),
-- and a draft never enters it. Filled here from the existing rows.

CREATE TABLE search_live (
	doc          bigint      PRIMARY KEY, -- search_docs.id
	model_id     text        NOT NULL,
	published_at timestamptz NOT NULL,    -- COALESCE(published_at, created_at) of the version
	facets       text        NOT NULL,    -- search_docs.facets
	downloads    bigint      NOT NULL,    -- the model's total downloads (all its versions)
	tsv          tsvector    NOT NULL     -- search_docs.tsv
);
CREATE INDEX search_live_model ON search_live (model_id);
CREATE INDEX search_live_tsv ON search_live USING gin (tsv);

-- search_live_refresh recomputes the visible document of model m. The
-- lock of the model's row (held to the end of the transaction; it does not
-- block foreign-key checks) serialises concurrent writers of the same
-- model; each statement after it (READ COMMITTED) sees what the writer
-- before it committed, so the last refresh sees every change. (A row lock,
-- not an advisory lock: a bulk index of 100,000 documents in one
-- transaction would exhaust the lock table.)
CREATE FUNCTION search_live_refresh(m text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM models WHERE id = m FOR NO KEY UPDATE;
	DELETE FROM search_live WHERE model_id = m;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads, tsv)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id),
			d.tsv
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.model_id = m AND v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
END $$;

CREATE FUNCTION search_live_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		PERFORM search_live_refresh(OLD.model_id);
	END IF;
	IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.model_id IS DISTINCT FROM OLD.model_id) THEN
		PERFORM search_live_refresh(NEW.model_id);
	END IF;
	RETURN NULL;
END $$;

-- search_live_downloads_trigger recomputes the downloads of the model of
-- a changed downloads row (one indexed update per counted download).
CREATE FUNCTION search_live_downloads_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	vid bigint;
BEGIN
	IF TG_OP = 'DELETE' THEN vid := OLD.version_id; ELSE vid := NEW.version_id; END IF;
	UPDATE search_live l SET downloads = (SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = l.model_id)
		WHERE l.model_id = (SELECT model_id FROM versions WHERE id = vid);
	RETURN NULL;
END $$;

CREATE TRIGGER search_live_versions AFTER INSERT OR DELETE OR UPDATE OF model_id, number, state, published_at, created_at
	ON versions FOR EACH ROW EXECUTE FUNCTION search_live_trigger();
CREATE TRIGGER search_live_docs AFTER INSERT OR DELETE OR UPDATE OF model_id, number, facets, tsv
	ON search_docs FOR EACH ROW EXECUTE FUNCTION search_live_trigger();
CREATE TRIGGER search_live_downloads AFTER INSERT OR DELETE OR UPDATE
	ON downloads FOR EACH ROW EXECUTE FUNCTION search_live_downloads_trigger();

-- The planner's estimate of how many documents have a facet value (one
-- value is on half the documents, another on a handful): without it, a
-- filter's row count is guessed from each column alone.
CREATE STATISTICS search_facets_value (mcv) ON facet, value FROM search_facets;


-- search_facet_counts: how many visible documents have each facet value,
-- i.e. the facet counts of the query without text and filters (browsing
-- the whole collection). Kept equal to
--   SELECT facet, value, count(*) FROM search_facets JOIN search_live ON doc GROUP BY facet, value
-- by triggers on both tables (whichever changes first), in the same
-- transaction (the writers of one model are serialised by
-- search_live_refresh's lock); rows at 0 are removed. The row ('', '')
-- counts the visible documents.
CREATE TABLE search_facet_counts (
	facet text   NOT NULL,
	value text   NOT NULL,
	n     bigint NOT NULL,
	PRIMARY KEY (facet, value)
);
CREATE INDEX search_live_date ON search_live (published_at);

CREATE FUNCTION search_facet_counts_add(d bigint, delta integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN -- every facet value of document d
	INSERT INTO search_facet_counts AS c (facet, value, n) SELECT facet, value, delta FROM search_facets WHERE doc = d ORDER BY facet, value
		ON CONFLICT (facet, value) DO UPDATE SET n = c.n + excluded.n;
	DELETE FROM search_facet_counts c USING search_facets s WHERE s.doc = d AND c.facet = s.facet AND c.value = s.value AND c.n <= 0;
END $$;

CREATE FUNCTION search_facet_counts_live_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM search_facet_counts_add(NEW.doc, 1);
		UPDATE search_facet_counts SET n = n + 1 WHERE facet = '' AND value = '';
	ELSE
		PERFORM search_facet_counts_add(OLD.doc, -1);
		UPDATE search_facet_counts SET n = n - 1 WHERE facet = '' AND value = '';
	END IF;
	RETURN NULL;
END $$;

-- Facet rows come and go by statement (one per document and write):
-- statement-level triggers with transition tables count them in one go.
CREATE FUNCTION search_facet_counts_facets_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO search_facet_counts AS c (facet, value, n)
		SELECT f.facet, f.value, count(*) FROM new_rows f JOIN search_live l ON l.doc = f.doc GROUP BY f.facet, f.value ORDER BY f.facet, f.value
		ON CONFLICT (facet, value) DO UPDATE SET n = c.n + excluded.n;
	RETURN NULL;
END $$;

CREATE FUNCTION search_facet_counts_facets_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE search_facet_counts c SET n = c.n - o.k
		FROM (SELECT f.facet, f.value, count(*) AS k FROM old_rows f JOIN search_live l ON l.doc = f.doc GROUP BY f.facet, f.value) o
		WHERE c.facet = o.facet AND c.value = o.value;
	DELETE FROM search_facet_counts c USING old_rows o WHERE c.facet = o.facet AND c.value = o.value AND c.n <= 0;
	RETURN NULL;
END $$;

CREATE TRIGGER search_facet_counts_live AFTER INSERT OR DELETE ON search_live
	FOR EACH ROW EXECUTE FUNCTION search_facet_counts_live_trigger();
CREATE TRIGGER search_facet_counts_facets_insert AFTER INSERT ON search_facets
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_facet_counts_facets_insert();
CREATE TRIGGER search_facet_counts_facets_delete AFTER DELETE ON search_facets
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION search_facet_counts_facets_delete();

-- search_live_rebuild recomputes search_live and search_facet_counts from
-- versions, search_docs and downloads in a few set-based statements (the
-- fill of this migration; a bulk load that ran with triggers disabled
-- calls it after). The triggers of both tables are off meanwhile, as their
-- effect is what the rebuild writes.
CREATE FUNCTION search_live_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	-- Fresh statistics: after a bulk load the planner would otherwise
	-- take the tables for empty and join them in nested loops.
	ANALYZE versions;
	ANALYZE search_docs;
	ANALYZE downloads;
	ALTER TABLE search_live DISABLE TRIGGER search_facet_counts_live;
	DELETE FROM search_live;
	INSERT INTO search_live (doc, model_id, published_at, facets, downloads, tsv)
		SELECT d.id, d.model_id, COALESCE(v.published_at, v.created_at), d.facets,
			COALESCE((SELECT SUM(dl.count) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = v.model_id), 0),
			d.tsv
		FROM versions v JOIN search_docs d ON d.model_id = v.model_id AND d.number = v.number
		WHERE v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
			AND ((w.state = 'published') > (v.state = 'published')
				OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)));
	ALTER TABLE search_live ENABLE TRIGGER search_facet_counts_live;
	ANALYZE search_live;
	ANALYZE search_facets;
	DELETE FROM search_facet_counts;
	INSERT INTO search_facet_counts (facet, value, n)
		SELECT f.facet, f.value, count(*) FROM search_facets f JOIN search_live l ON l.doc = f.doc GROUP BY f.facet, f.value;
	INSERT INTO search_facet_counts (facet, value, n) SELECT '', '', count(*) FROM search_live;
END $$;

SELECT search_live_rebuild();
