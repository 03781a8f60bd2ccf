package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/zoo-bioimage/zoo/search"
)

var _ search.Store = (*DB)(nil)

// PutSearchDocs stores search documents in one transaction, each replacing
// the document of the same version (search.Store).
func (db *DB) PutSearchDocs(ctx context.Context, docs []*search.Doc) error {
	const op = "search.Index"
	return db.tx(ctx, op, func(tx *sql.Tx) error {
		find, err := tx.PrepareContext(ctx, `SELECT id FROM search_docs WHERE model_id = ? AND number = ?`)
		if err != nil {
			return dbError(op, err, "", "")
		}
		defer find.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO search_docs (model_id, number, facets, hit) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return dbError(op, err, "", "")
		}
		defer ins.Close()
		fts, err := tx.PrepareContext(ctx, `INSERT INTO search_fts (rowid, name, tags, authors, description, documentation) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return dbError(op, err, "", "")
		}
		defer fts.Close()
		fac, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO search_facets (facet, value, doc) VALUES (?, ?, ?)`)
		if err != nil {
			return dbError(op, err, "", "")
		}
		defer fac.Close()
		for _, d := range docs {
			var id int64
			err := find.QueryRowContext(ctx, d.ModelID, d.Number).Scan(&id)
			switch {
			case err == sql.ErrNoRows:
				res, err := ins.ExecContext(ctx, d.ModelID, d.Number, d.FacetString(), string(d.HitJSON()))
				if err != nil {
					return dbError(op, err, "", "")
				}
				if id, err = res.LastInsertId(); err != nil {
					return dbError(op, err, "", "")
				}
			case err != nil:
				return dbError(op, err, "", "")
			default:
				for _, q := range []string{
					`DELETE FROM search_fts WHERE rowid = ?`,
					`DELETE FROM search_facets WHERE doc = ?`,
				} {
					if _, err := tx.ExecContext(ctx, q, id); err != nil {
						return dbError(op, err, "", "")
					}
				}
				if _, err := tx.ExecContext(ctx, `UPDATE search_docs SET facets = ?, hit = ? WHERE id = ?`, d.FacetString(), string(d.HitJSON()), id); err != nil {
					return dbError(op, err, "", "")
				}
			}
			if _, err := fts.ExecContext(ctx, id, d.Name, strings.Join(d.Tags, " "), strings.Join(d.Authors, " "), d.Description, d.Documentation); err != nil {
				return dbError(op, err, "", "")
			}
			for _, fv := range d.Facets() {
				if _, err := fac.ExecContext(ctx, fv[0], fv[1], id); err != nil {
					return dbError(op, err, "", "")
				}
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
const downloadsSQL = `(SELECT COALESCE(SUM(dl.count), 0) FROM versions w JOIN downloads dl ON dl.version_id = w.id WHERE w.model_id = d.model_id)`

// SearchCandidates implements search.Store with FTS5 (bm25 over name,
// tags, authors, description and documentation, weighted 10, 5, 3, 2, 1).
func (db *DB) SearchCandidates(ctx context.Context, terms []string, prefix bool, filters map[string][]string, downloads bool) ([]search.Candidate, error) {
	const op = "search.Search"
	var q strings.Builder
	var args []any
	if len(terms) > 0 {
		q.WriteString(`SELECT d.id, -bm25(search_fts, 10.0, 5.0, 3.0, 2.0, 1.0), `)
	} else {
		q.WriteString(`SELECT d.id, 0.0, `)
	}
	q.WriteString(`COALESCE(v.published_at, v.created_at), `)
	if downloads {
		q.WriteString(downloadsSQL + `, `)
	} else {
		q.WriteString(`0, `)
	}
	q.WriteString(`d.facets `)
	// The join order is forced (CROSS JOIN): the most selective source
	// first — the full-text matches, else the documents of the rarest
	// filtered facet value set, else all documents —, then the version
	// (visibility), then the other filters per document.
	var where []any
	driver := ""
	if len(terms) == 0 && len(filters) > 0 {
		var err error
		if driver, err = db.rarestFacet(ctx, filters); err != nil {
			return nil, err
		}
	}
	switch {
	case len(terms) > 0:
		q.WriteString(`FROM search_fts CROSS JOIN search_docs d ON d.id = search_fts.rowid `)
	case driver != "":
		vs := filters[driver]
		q.WriteString(`FROM (SELECT DISTINCT doc FROM search_facets WHERE facet = ? AND value IN (?` + strings.Repeat(`, ?`, len(vs)-1) + `)) f0
			CROSS JOIN search_docs d ON d.id = f0.doc `)
		args = append(args, driver)
		for _, v := range vs {
			args = append(args, v)
		}
	default:
		q.WriteString(`FROM search_docs d `)
	}
	q.WriteString(`CROSS JOIN versions v ON v.model_id = d.model_id AND v.number = d.number WHERE ` + visibleSQL)
	if len(terms) > 0 {
		q.WriteString(` AND search_fts MATCH ?`)
		where = append(where, ftsQuery(terms, prefix))
	}
	for _, f := range search.Facets { // fixed order: the same SQL for the same filters
		vs := filters[f]
		if len(vs) == 0 || f == driver {
			continue
		}
		// EXISTS per document: with "d.id IN (…)" SQLite may probe the
		// list for every version row (quadratic).
		q.WriteString(` AND EXISTS (SELECT 1 FROM search_facets f WHERE f.facet = ? AND f.value IN (?` + strings.Repeat(`, ?`, len(vs)-1) + `) AND f.doc = d.id)`)
		where = append(where, f)
		for _, v := range vs {
			where = append(where, v)
		}
	}
	args = append(args, where...)
	rows, err := db.read.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []search.Candidate
	for rows.Next() {
		var c search.Candidate
		var at int64
		if err := rows.Scan(&c.Key, &c.Score, &at, &c.Downloads, &c.Facets); err != nil {
			return nil, dbError(op, err, "", "")
		}
		c.PublishedAt = fromMicros(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	return out, nil
}

// rarestFacet returns the filtered facet whose accepted values are on the
// fewest documents (an index-only count each).
func (db *DB) rarestFacet(ctx context.Context, filters map[string][]string) (string, error) {
	best, bestN := "", int64(-1)
	for _, f := range search.Facets {
		vs := filters[f]
		if len(vs) == 0 {
			continue
		}
		args := []any{f}
		for _, v := range vs {
			args = append(args, v)
		}
		var n int64
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM search_facets WHERE facet = ? AND value IN (?`+strings.Repeat(`, ?`, len(vs)-1)+`)`, args...).Scan(&n); err != nil {
			return "", dbError("search.Search", err, "", "")
		}
		if bestN < 0 || n < bestN {
			best, bestN = f, n
		}
	}
	return best, nil
}

// ftsQuery is the FTS5 query of search.Terms: every term a quoted string
// (terms hold only letters, numbers and marks; quotes are doubled anyway),
// joined by AND, the last one a prefix when prefix is set.
func ftsQuery(terms []string, prefix bool) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	if prefix {
		parts[len(parts)-1] += "*"
	}
	return strings.Join(parts, " AND ")
}

// SearchHits implements search.Store.
func (db *DB) SearchHits(ctx context.Context, keys []int64) (map[int64]search.StoredHit, error) {
	const op = "search.Search"
	out := map[int64]search.StoredHit{}
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := db.read.QueryContext(ctx, `SELECT d.id, d.hit, `+downloadsSQL+` FROM search_docs d WHERE d.id IN (?`+strings.Repeat(`, ?`, len(keys)-1)+`)`, args...)
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
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	return out, nil
}

// UnindexedPublished implements search.Store.
func (db *DB) UnindexedPublished(ctx context.Context, limit int) ([]search.VersionRef, error) {
	const op = "search.Sync"
	rows, err := db.read.QueryContext(ctx, `SELECT v.model_id, v.number FROM versions v
		WHERE v.state IN ('published', 'retired')
		AND NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.model_id = v.model_id AND d.number = v.number)
		ORDER BY v.id LIMIT ?`, limit)
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
	if err := rows.Err(); err != nil {
		return nil, dbError(op, err, "", "")
	}
	return out, nil
}
