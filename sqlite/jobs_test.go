package sqlite

import (
	"io/fs"
	"os"
	"testing"

	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/jobs/jobstest"
)

func TestJobs(t *testing.T) {
	jobstest.Run(t, func(t *testing.T) jobs.Store {
		db := open(t)
		ensureJobsTable(t, db)
		return db.Jobs()
	})
}

// ensureJobsTable applies migrations/0004_jobs.sql.pending when the
// migration is not embedded yet (its number waits for 0002 and 0003).
func ensureJobsTable(t *testing.T, db *DB) {
	t.Helper()
	if _, err := fs.Stat(migrationFiles, "migrations/0004_jobs.sql"); err == nil {
		return
	}
	sql, err := os.ReadFile("migrations/0004_jobs.sql.pending")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.Exec(string(sql)); err != nil {
		t.Fatal(err)
	}
}
