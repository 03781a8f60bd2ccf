package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/search/searchtest"
)

func TestSearch(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) searchtest.Backend { return open(t) })
}

// BenchmarkSearch: see searchtest.Bench and bench/search.sh.
func BenchmarkSearch(b *testing.B) {
	corpus := fixtures.Path(b, "rdf-corpus", "rdfs")
	for _, n := range searchtest.BenchSizes() {
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			searchtest.Bench(b, "postgres", func(b *testing.B) searchtest.Backend { return open(b) }, seedBench, corpus, n)
		})
	}
}

// seedBench writes the generated models' catalog rows in one transaction
// (COPY).
func seedBench(b *testing.B, db searchtest.Backend, models []searchtest.BenchModel) {
	d := db.(*DB)
	err := d.tx(ctx, "bench", func(tx pgx.Tx) error {
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
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"downloads"}, []string{"version_id", "count"}, pgx.CopyFromRows(dl))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}
