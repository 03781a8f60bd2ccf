package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/search/searchtest"
)

func TestSearch(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) searchtest.Backend { return open(t) })
}

// TestSearchBulkLoad: the benchmark's bulk load (triggers off, then
// search_live_rebuild when migration 0008 is there) leaves the same
// answers as the triggers would.
func TestSearchBulkLoad(t *testing.T) {
	db := open(t)
	u, err := db.CreateUser(ctx, "bench", zoo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	models := searchtest.Generate(t, fixtures.Path(t, "rdf-corpus", "rdfs"), 500, u.ID)
	docs := make([]*search.Doc, len(models))
	for i, m := range models {
		docs[i] = m.Doc
	}
	if err := db.PutSearchDocs(ctx, docs); err != nil {
		t.Fatal(err)
	}
	seedBench(t, db, models)
	idx := search.New(db, nil, nil)
	searchtest.CheckBrowse(t, db, idx)
	res, err := idx.Search(ctx, search.Query{Sort: search.SortDownloads, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	var most int64
	for _, m := range models {
		most = max(most, m.Downloads)
	}
	if res.Total != len(models) || len(res.Hits) != 1 || res.Hits[0].Downloads != most {
		t.Errorf("after the bulk load: total %d, hits %+v; want %d models, the first with %d downloads", res.Total, res.Hits, len(models), most)
	}
}

// BenchmarkSearch: see searchtest.Bench and bench/search.sh.
func BenchmarkSearch(b *testing.B) {
	corpus := fixtures.Path(b, "rdf-corpus", "rdfs")
	for _, n := range searchtest.BenchSizes() {
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			searchtest.Bench(b, "postgres", openBench, seedBench, corpus, n)
		})
	}
}

// openBench opens a database whose sessions run without triggers
// (session_replication_role=replica; the test server's role is a
// superuser): with migration 0008 the bulk load of 100,000 documents and
// catalog rows in one transaction each would run the search_live and
// count triggers per row for minutes; seedBench rebuilds those tables once
// at the end instead (search_live_rebuild). Queries do not fire triggers.
func openBench(b *testing.B) searchtest.Backend {
	b.Helper()
	db, err := Open(ctx, pgtest.DSN(b)+"&session_replication_role=replica")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// seedBench writes the generated models' catalog rows in one transaction
// (COPY).
func seedBench(b testing.TB, db searchtest.Backend, models []searchtest.BenchModel) {
	d := db.(*DB)
	err := d.tx(ctx, "bench", func(tx pgx.Tx) error {
		// With migration 0008, triggers would recompute search_live per
		// row (and update the same count rows 100,000 times in one
		// transaction); the load runs without triggers (the test server's
		// role is a superuser) and rebuilds the tables once at the end.
		var rebuild bool
		if err := tx.QueryRow(ctx, `SELECT to_regproc('search_live_rebuild') IS NOT NULL`).Scan(&rebuild); err != nil {
			return err
		}
		if rebuild {
			if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
				return err
			}
		}
		var ids, mods, vers [][]any
		for _, m := range models {
			v := m.Version
			ids = append(ids, []any{v.ModelID, *v.PublishedAt})
			mods = append(mods, []any{v.ModelID, m.Type, v.UploaderID, 1, *v.PublishedAt})
			var report any
			if v.TestReport != nil {
				report = string(v.TestReport)
			}
			vers = append(vers, []any{v.ModelID, 1, string(v.State), string(v.TestStatus), v.UploaderID, v.Name, v.Description,
				v.FormatVersion, v.DescriptionFile, v.PackageSHA256, v.PackageSize, report, *v.PublishedAt, *v.PublishedAt})
		}
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"used_ids", []string{"id", "used_at"}, ids},
			{"models", []string{"id", "type", "owner_id", "last_version", "created_at"}, mods},
			{"versions", []string{"model_id", "number", "state", "test_status", "uploader_id", "name", "description",
				"format_version", "description_file", "package_sha256", "package_size", "test_report", "created_at", "published_at"}, vers},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return fmt.Errorf("%s: %w", c.table, err)
			}
		}
		var dl [][]any
		rows, err := tx.Query(ctx, `SELECT id, model_id FROM versions`)
		if err != nil {
			return err
		}
		byID := map[string]int64{}
		for _, m := range models {
			byID[m.Version.ModelID] = m.Downloads
		}
		for rows.Next() {
			var vid int64
			var id string
			if err := rows.Scan(&vid, &id); err != nil {
				return err
			}
			if n := byID[id]; n > 0 {
				dl = append(dl, []any{vid, n})
			}
		}
		rows.Close()
		if _, err = tx.CopyFrom(ctx, pgx.Identifier{"downloads"}, []string{"version_id", "count"}, pgx.CopyFromRows(dl)); err != nil {
			return err
		}
		if rebuild {
			if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = origin`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT search_live_rebuild()`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}
