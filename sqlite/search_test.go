package sqlite

import (
	"database/sql"
	"fmt"
	"testing"

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
			searchtest.Bench(b, "sqlite", func(b *testing.B) searchtest.Backend { return open(b) }, seedBench, corpus, n)
		})
	}
}

// seedBench writes the generated models' catalog rows in one transaction.
func seedBench(b *testing.B, db searchtest.Backend, models []searchtest.BenchModel) {
	d := db.(*DB)
	err := d.tx(ctx, "bench", func(tx *sql.Tx) error {
		for _, m := range models {
			v := m.Version
			at := micros(*v.PublishedAt)
			if _, err := tx.ExecContext(ctx, `INSERT INTO used_ids (id, used_at) VALUES (?, ?)`, v.ModelID, at); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO models (id, type, owner_id, last_version, created_at) VALUES (?, ?, ?, 1, ?)`, v.ModelID, m.Type, v.UploaderID, at); err != nil {
				return err
			}
			var report any
			if v.TestReport != nil {
				report = string(v.TestReport)
			}
			var vid int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO versions (model_id, number, state, test_status, uploader_id, name, description,
				format_version, description_file, package_sha256, package_size, test_report, created_at, published_at)
				VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				v.ModelID, v.State, v.TestStatus, v.UploaderID, v.Name, v.Description, v.FormatVersion, v.DescriptionFile,
				v.PackageSHA256, v.PackageSize, report, at, at).Scan(&vid); err != nil {
				return err
			}
			if m.Downloads > 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO downloads (version_id, count) VALUES (?, ?)`, vid, m.Downloads); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
