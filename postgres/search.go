package postgres

import (
	"context"
	"fmt"
	"strings"

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

// visibleSQL keeps the version a search may show of its model: the
// highest-numbered published one, else the highest-numbered retired one.
const visibleSQL = `v.state IN ('published', 'retired')
	AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
		AND ((w.state = 'published') > (v.state = 'published')
			OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number)))`

// downloadsSQL is the total downloads of the model of d.
const downloadsSQL = `(SELECT COALESCE(SUM(dl.count), 0) FROM versions w JOIN downloads dl ON dl.version_id = w.id WHERE w.model_id = d.model_id)::bigint`

// SearchCandidates implements search.Store with a tsvector (configuration zoo_search:
// English stems, no stop words) ranked by ts_rank, name weighted most.
func (db *DB) SearchCandidates(ctx context.Context, terms []string, prefix bool, filters map[string][]string, downloads bool) ([]search.Candidate, error) {
	const op = "search.Search"
	var q strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if len(terms) > 0 {
		q.WriteString(`SELECT d.id, ts_rank(d.tsv, q)::float8, `)
	} else {
		q.WriteString(`SELECT d.id, 0::float8, `)
	}
	q.WriteString(`COALESCE(v.published_at, v.created_at), `)
	if downloads {
		q.WriteString(downloadsSQL + `, `)
	} else {
		q.WriteString(`0::bigint, `)
	}
	q.WriteString(`d.facets
		FROM search_docs d JOIN versions v ON v.model_id = d.model_id AND v.number = d.number`)
	if len(terms) > 0 {
		q.WriteString(`, to_tsquery('zoo_search', ` + arg(tsQuery(terms, prefix)) + `) q`)
	}
	q.WriteString(` WHERE ` + visibleSQL)
	if len(terms) > 0 {
		q.WriteString(` AND d.tsv @@ q`)
	}
	for _, f := range search.Facets {
		if vs := filters[f]; len(vs) > 0 {
			q.WriteString(` AND d.id IN (SELECT doc FROM search_facets WHERE facet = ` + arg(f) + ` AND value = ANY(` + arg(vs) + `::text[]))`)
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
	out := map[int64]search.StoredHit{}
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.hit, `+downloadsSQL+` FROM search_docs d WHERE d.id = ANY($1)`, keys)
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
