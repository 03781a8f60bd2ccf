package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"

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

// liveViewSQL computes search_live from versions when the table is missing
// (a database before migration 0008): the visible document of each model —
// the highest-numbered published version, else the highest-numbered
// retired one —, checked per document.
const liveViewSQL = `(SELECT d.id AS doc, d.model_id AS model_id, COALESCE(v.published_at, v.created_at) AS published_at, d.facets AS facets,
		(SELECT COALESCE(SUM(dl.count), 0) FROM versions x JOIN downloads dl ON dl.version_id = x.id WHERE x.model_id = d.model_id) AS downloads
	FROM search_docs d JOIN versions v ON v.model_id = d.model_id AND v.number = d.number
	WHERE v.state IN ('published', 'retired')
	AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.model_id = v.model_id AND w.state IN ('published', 'retired')
		AND ((w.state = 'published') > (v.state = 'published')
			OR ((w.state = 'published') = (v.state = 'published') AND w.number > v.number))))`

var hasLive sync.Map // *DB → bool: the database has table search_live

// live returns the source of visible documents: table search_live
// (migration 0008), else liveViewSQL. The answer is cached per DB, since
// migrations only run at Open.
func (db *DB) live(ctx context.Context) (string, error) {
	ok, found := hasLive.Load(db)
	if !found {
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'search_live'`).Scan(&n); err != nil {
			return "", dbError("search.Search", err, "", "")
		}
		ok = n > 0
		hasLive.Store(db, ok)
	}
	if ok.(bool) {
		return "search_live", nil
	}
	return liveViewSQL, nil
}

// SearchCandidates implements search.Store with FTS5 (bm25 over name,
// tags, authors, description and documentation, weighted 10, 5, 3, 2, 1).
//
// With search_live (migration 0008) and more than parallelMin documents,
// the documents are split into two halves by key, read at the same time on
// two connections (each a read transaction): the match, bm25 and the
// transfer of every match cost a few µs each, and two cores halve that for
// broad queries. Both halves must read the same state: each reads the
// counter search_live_gen (bumped by every change of search_live) in its
// transaction, and when the two differ — a write committed between their
// starts — the search runs again.
func (db *DB) SearchCandidates(ctx context.Context, terms []string, prefix bool, filters map[string][]string, downloads bool) ([]search.Candidate, error) {
	live, err := db.live(ctx)
	if err != nil {
		return nil, err
	}
	driver := ""
	if len(terms) == 0 && len(filters) > 0 {
		if driver, err = db.rarestFacet(ctx, filters); err != nil {
			return nil, err
		}
	}
	if live == "search_live" {
		var lo, hi sql.NullInt64
		if err := db.read.QueryRowContext(ctx, `SELECT min(doc), max(doc) FROM search_live`).Scan(&lo, &hi); err != nil {
			return nil, dbError("search.Search", err, "", "")
		}
		if lo.Valid && hi.Int64-lo.Int64 >= parallelMin {
			mid := lo.Int64 + (hi.Int64-lo.Int64)/2
			for range 3 {
				out, same, err := db.candidatesSplit(ctx, terms, prefix, filters, downloads, driver, [][2]int64{{lo.Int64, mid}, {mid + 1, hi.Int64}})
				if err != nil || same {
					return out, err
				}
			}
		}
	}
	q, args := candidatesSQL(live, terms, prefix, filters, downloads, driver, nil)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, dbError("search.Search", err, "", "")
	}
	return scanCandidates(rows, nil)
}

// parallelMin is the span of document keys from which SearchCandidates
// reads two halves at the same time (a variable for tests).
var parallelMin int64 = 20000

// candidatesSplit reads the candidates of each key range in its own read
// transaction, at the same time, and reports whether all of them saw the
// same search_live_gen.
func (db *DB) candidatesSplit(ctx context.Context, terms []string, prefix bool, filters map[string][]string, downloads bool, driver string, ranges [][2]int64) ([]search.Candidate, bool, error) {
	type part struct {
		out []search.Candidate
		gen int64
		err error
	}
	parts := make([]part, len(ranges))
	var wg sync.WaitGroup
	for i, r := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[i]
			tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				p.err = dbError("search.Search", err, "", "")
				return
			}
			defer tx.Rollback()
			if err := tx.QueryRowContext(ctx, `SELECT n FROM search_live_gen`).Scan(&p.gen); err != nil {
				p.err = dbError("search.Search", err, "", "")
				return
			}
			q, args := candidatesSQL("search_live", terms, prefix, filters, downloads, driver, &r)
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				p.err = dbError("search.Search", err, "", "")
				return
			}
			p.out, p.err = scanCandidates(rows, nil)
		}()
	}
	wg.Wait()
	n := 0
	for _, p := range parts {
		if p.err != nil {
			return nil, false, p.err
		}
		if p.gen != parts[0].gen {
			return nil, false, nil
		}
		n += len(p.out)
	}
	out := make([]search.Candidate, 0, n)
	for _, p := range parts {
		out = append(out, p.out...)
	}
	return out, true, nil
}

// candidatesSQL is the query of SearchCandidates over the visible
// documents live, restricted to document keys in keys (inclusive) when
// keys is not nil. The join order is forced (CROSS JOIN): the most
// selective source first — the full-text matches, else the documents of
// the rarest filtered facet value set (driver), else all visible
// documents —, then the visible document, then the other filters.
func candidatesSQL(live string, terms []string, prefix bool, filters map[string][]string, downloads bool, driver string, keys *[2]int64) (string, []any) {
	var q strings.Builder
	var args, where []any
	if len(terms) > 0 {
		q.WriteString(`SELECT l.doc, -bm25(search_fts, 10.0, 5.0, 3.0, 2.0, 1.0), `)
	} else {
		q.WriteString(`SELECT l.doc, 0.0, `)
	}
	q.WriteString(`l.published_at, `)
	if downloads {
		q.WriteString(`l.downloads, `)
	} else {
		q.WriteString(`0, `)
	}
	q.WriteString(`l.facets `)
	keyRange := func(col string) {
		if keys != nil {
			q.WriteString(` AND ` + col + ` BETWEEN ? AND ?`)
			where = append(where, keys[0], keys[1])
		}
	}
	switch {
	case len(terms) > 0:
		q.WriteString(`FROM search_fts CROSS JOIN ` + live + ` l ON l.doc = search_fts.rowid WHERE search_fts MATCH ?`)
		where = append(where, ftsQuery(terms, prefix))
		keyRange(`search_fts.rowid`)
	case driver != "":
		vs := filters[driver]
		q.WriteString(`FROM (SELECT DISTINCT doc FROM search_facets WHERE facet = ? AND value IN (?` + strings.Repeat(`, ?`, len(vs)-1) + `)`)
		args = append(args, driver)
		for _, v := range vs {
			args = append(args, v)
		}
		if keys != nil {
			q.WriteString(` AND doc BETWEEN ? AND ?`)
			args = append(args, keys[0], keys[1])
		}
		q.WriteString(`) f0 CROSS JOIN ` + live + ` l ON l.doc = f0.doc WHERE 1`)
	default:
		q.WriteString(`FROM ` + live + ` l WHERE 1`)
		keyRange(`l.doc`)
	}
	for _, f := range search.Facets { // fixed order: the same SQL for the same filters
		vs := filters[f]
		if len(vs) == 0 || f == driver {
			continue
		}
		// "IN (list)": SQLite builds the list once and probes it per
		// match (EXISTS per match cost a B-tree search each, 4× slower at
		// 12,000 matches).
		q.WriteString(` AND l.doc IN (SELECT doc FROM search_facets f WHERE f.facet = ? AND f.value IN (?` + strings.Repeat(`, ?`, len(vs)-1) + `)`)
		where = append(where, f)
		for _, v := range vs {
			where = append(where, v)
		}
		if keys != nil {
			q.WriteString(` AND f.doc BETWEEN ? AND ?`)
			where = append(where, keys[0], keys[1])
		}
		q.WriteString(`)`)
	}
	return q.String(), append(args, where...)
}

// scanCandidates reads the rows of candidatesSQL and closes them.
func scanCandidates(rows *sql.Rows, out []search.Candidate) ([]search.Candidate, error) {
	const op = "search.Search"
	defer rows.Close()
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
	live, err := db.live(ctx)
	if err != nil {
		return nil, err
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := db.read.QueryContext(ctx, `SELECT d.id, d.hit, l.downloads FROM search_docs d JOIN `+live+` l ON l.doc = d.id WHERE d.id IN (?`+strings.Repeat(`, ?`, len(keys)-1)+`)`, args...)
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

var _ search.Browser = (*DB)(nil)

// SearchBrowse implements search.Browser from search_facet_counts and the
// date index of search_live (migration 0008), in one read transaction;
// without them ok is false.
func (db *DB) SearchBrowse(ctx context.Context, sortBy string, k int) (int, map[string]int, []search.Candidate, bool, error) {
	const op = "search.Search"
	live, err := db.live(ctx)
	if err != nil || live != "search_live" {
		return 0, nil, nil, false, err
	}
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, nil, false, dbError(op, err, "", "")
	}
	defer tx.Rollback()
	total := 0
	counts := map[string]int{}
	rows, err := tx.QueryContext(ctx, `SELECT facet, value, n FROM search_facet_counts`)
	if err != nil {
		return 0, nil, nil, false, dbError(op, err, "", "")
	}
	defer rows.Close()
	for rows.Next() {
		var f, v string
		var n int
		if err := rows.Scan(&f, &v, &n); err != nil {
			return 0, nil, nil, false, dbError(op, err, "", "")
		}
		if f == "" && v == "" {
			total = n
		} else {
			counts[f+"\x1f"+v] = n
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, nil, false, dbError(op, err, "", "")
	}
	order := `l.published_at DESC, l.downloads DESC, l.doc`
	if sortBy == search.SortDownloads {
		order = `l.downloads DESC, l.published_at DESC, l.doc`
	}
	rows, err = tx.QueryContext(ctx, `SELECT l.doc, l.published_at, l.downloads FROM search_live l ORDER BY `+order+` LIMIT ?`, k)
	if err != nil {
		return 0, nil, nil, false, dbError(op, err, "", "")
	}
	var top []search.Candidate
	for rows.Next() {
		var c search.Candidate
		var at int64
		if err := rows.Scan(&c.Key, &at, &c.Downloads); err != nil {
			return 0, nil, nil, false, dbError(op, err, "", "")
		}
		c.PublishedAt = fromMicros(at)
		top = append(top, c)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, nil, false, dbError(op, err, "", "")
	}
	return total, counts, top, true, nil
}
