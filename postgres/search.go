package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo/search"
)

var _ search.Store = (*DB)(nil)

// PutSearchDocs stores search documents in one transaction, each replacing
// the document of the same version (search.Store). Statements are sent in
// batches, so a bulk load does not wait for a round trip per document.
func (db *DB) PutSearchDocs(ctx context.Context, docs []*search.Doc) error {
	const op = "search.Index"
	const upsert = `INSERT INTO search_docs (model_id, number, facets, hit, tsv)
		VALUES ($1, $2, $3, $4,
			setweight(to_tsvector('zoo_search', $5), 'A') || setweight(to_tsvector('zoo_search', $6), 'B') ||
			setweight(to_tsvector('zoo_search', $7), 'C') || setweight(to_tsvector('zoo_search', $8), 'D'))
		ON CONFLICT (model_id, number) DO UPDATE SET facets = excluded.facets, hit = excluded.hit, tsv = excluded.tsv`
	const del = `DELETE FROM search_facets WHERE doc = (SELECT id FROM search_docs WHERE model_id = $1 AND number = $2)`
	const ins = `INSERT INTO search_facets (facet, value, doc)
		SELECT f, v, (SELECT id FROM search_docs WHERE model_id = $1 AND number = $2) FROM unnest($3::text[], $4::text[]) AS x (f, v)
		ON CONFLICT DO NOTHING`
	return db.tx(ctx, op, func(tx pgx.Tx) error {
		for start := 0; start < len(docs); start += 2000 {
			chunk := docs[start:min(len(docs), start+2000)]
			b := &pgx.Batch{}
			for _, d := range chunk {
				b.Queue(upsert, d.ModelID, d.Number, d.FacetString(), string(d.HitJSON()),
					d.Name, strings.Join(d.Tags, " "), strings.Join(d.Authors, " ")+" "+d.Description, d.Documentation)
			}
			for _, d := range chunk {
				b.Queue(del, d.ModelID, d.Number)
			}
			for _, d := range chunk {
				var fs, vs []string
				for _, fv := range d.Facets() {
					fs, vs = append(fs, fv[0]), append(vs, fv[1])
				}
				b.Queue(ins, d.ModelID, d.Number, fs, vs)
			}
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return dbError(op, err, "", "")
			}
		}
		return nil
	})
}

// liveViewSQL computes search_live from versions when the table is missing
// (a database before migration 0008): the visible document of each model —
// the highest-numbered published version, else the highest-numbered
// retired one —, checked per document.
const liveViewSQL = `(SELECT d.id AS doc, d.model_id AS model_id, COALESCE(v.published_at, v.created_at) AS published_at, d.facets AS facets,
		(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = d.model_id)::bigint AS downloads,
		d.tsv AS tsv
	FROM search_docs d JOIN versions v ON v.model_id = d.model_id AND v.number = d.number
	WHERE v.state IN ('published', 'retired')
	AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
		AND ((w.state = 'published') > (v.state = 'published')
			OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number))))`

var hasLive sync.Map // *DB → bool: the database has table search_live

// live returns the source of visible documents: table search_live
// (migration 0008, kept exact by triggers on versions and search_docs),
// else liveViewSQL. The answer is cached per DB, since migrations only
// run at Open.
func (db *DB) live(ctx context.Context) (string, error) {
	ok, found := hasLive.Load(db)
	if !found {
		var b bool
		if err := db.pool.QueryRow(ctx, `SELECT to_regclass('search_live') IS NOT NULL`).Scan(&b); err != nil {
			return "", dbError("search.Search", err, "", "")
		}
		ok = b
		hasLive.Store(db, ok)
	}
	if ok.(bool) {
		return "search_live", nil
	}
	return liveViewSQL, nil
}

// SearchCandidates implements search.Store with a tsvector (configuration zoo_search:
// English stems, no stop words) ranked by ts_rank, name weighted most.
func (db *DB) SearchCandidates(ctx context.Context, terms []string, prefix bool, filters map[string][]string, downloads bool) ([]search.Candidate, error) {
	const op = "search.Search"
	live, err := db.live(ctx)
	if err != nil {
		return nil, err
	}
	var q strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if len(terms) > 0 {
		q.WriteString(`SELECT l.doc, ts_rank(l.tsv, q)::float8, `)
	} else {
		q.WriteString(`SELECT l.doc, 0::float8, `)
	}
	q.WriteString(`l.published_at, `)
	if downloads {
		q.WriteString(`l.downloads, `)
	} else {
		q.WriteString(`0::bigint, `)
	}
	q.WriteString(`l.facets FROM ` + live + ` l`)
	if len(terms) > 0 {
		q.WriteString(`, to_tsquery('zoo_search', ` + arg(tsQuery(terms, prefix)) + `) q`)
	}
	q.WriteString(` WHERE true`)
	if len(terms) > 0 {
		q.WriteString(` AND l.tsv @@ q`)
	}
	for _, f := range search.Facets {
		if vs := filters[f]; len(vs) > 0 {
			q.WriteString(` AND l.doc IN (SELECT doc FROM search_facets WHERE facet = ` + arg(f) + ` AND value = ANY(` + arg(vs) + `::text[]))`)
		}
	}
	rows, err := db.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []search.Candidate
	for rows.Next() {
		var c search.Candidate
		if err := rows.Scan(&c.Key, &c.Score, &c.PublishedAt, &c.Downloads, &c.Facets); err != nil {
			return nil, dbError(op, err, "", "")
		}
		c.PublishedAt = c.PublishedAt.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	return out, nil
}

// tsQuery is the to_tsquery text of search.Terms: every term quoted
// (terms hold only letters, numbers and marks; quotes are doubled anyway),
// joined by &, the last one a prefix (:*) when prefix is set.
func tsQuery(terms []string, prefix bool) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `'` + strings.ReplaceAll(t, `'`, `''`) + `'`
	}
	if prefix {
		parts[len(parts)-1] += ":*"
	}
	return strings.Join(parts, " & ")
}

// SearchHits implements search.Store.
func (db *DB) SearchHits(ctx context.Context, keys []int64) (map[int64]search.StoredHit, error) {
	const op = "search.Search"
	live, err := db.live(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]search.StoredHit{}
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.hit, l.downloads FROM search_docs d JOIN `+live+` l ON l.doc = d.id WHERE d.id = ANY($1)`, keys)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		var hit string
		if err := rows.Scan(&id, &hit, &n); err != nil {
			return nil, dbError(op, err, "", "")
		}
		out[id] = search.StoredHit{JSON: []byte(hit), Downloads: n}
	}
	return out, dbError(op, rows.Err(), "", "")
}

// UnindexedPublished implements search.Store.
func (db *DB) UnindexedPublished(ctx context.Context, limit int) ([]search.VersionRef, error) {
	const op = "search.Sync"
	rows, err := db.pool.Query(ctx, `SELECT v.model_id, v.number FROM versions v
		WHERE v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.model_id = v.model_id AND d.number = v.number)
		ORDER BY v.id LIMIT $1`, limit)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []search.VersionRef
	for rows.Next() {
		var r search.VersionRef
		if err := rows.Scan(&r.ModelID, &r.Number); err != nil {
			return nil, dbError(op, err, "", "")
		}
		out = append(out, r)
	}
	return out, dbError(op, rows.Err(), "", "")
}

var _ search.Browser = (*DB)(nil)

// SearchBrowse implements search.Browser from search_facet_counts and the
// date index of search_live (migration 0008), in one repeatable-read
// transaction; without them ok is false.
func (db *DB) SearchBrowse(ctx context.Context, sortBy string, k int) (total int, counts map[string]int, top []search.Candidate, ok bool, err error) {
	const op = "search.Search"
	live, err := db.live(ctx)
	if err != nil || live != "search_live" {
		return 0, nil, nil, false, err
	}
	order := `l.published_at DESC, l.downloads DESC, l.doc`
	if sortBy == search.SortDownloads {
		order = `l.downloads DESC, l.published_at DESC, l.doc`
	}
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		counts = map[string]int{}
		rows, err := tx.Query(ctx, `SELECT facet, value, n FROM search_facet_counts`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var f, v string
			var n int
			if err := rows.Scan(&f, &v, &n); err != nil {
				return err
			}
			if f == "" && v == "" {
				total = n
			} else {
				counts[f+"\x1f"+v] = n
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT l.doc, l.published_at, l.downloads FROM search_live l ORDER BY `+order+` LIMIT $1`, k)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c search.Candidate
			if err := rows.Scan(&c.Key, &c.PublishedAt, &c.Downloads); err != nil {
				return err
			}
			c.PublishedAt = c.PublishedAt.UTC()
			top = append(top, c)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, nil, false, dbError(op, err, "", "")
	}
	return total, counts, top, true, nil
}
