package postgres

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog/catalogtest"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/queue/queuetest"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/session/sessiontest"
)

// catalogtest's per-client download counting skips catalogs without
// CountDownloadOnce; this one must run it.
var _ repo.OnceCounter = (*DB)(nil)

var ctx = context.Background()

// open returns a DB on a fresh database (see pgtest).
func open(t testing.TB) *DB {
	t.Helper()
	db, err := Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCatalog(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) zoo.Catalog { return open(t) })
}

func TestSessions(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) sessiontest.DB { return open(t) })
}

func TestQueue(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, opts queue.Options) *queue.Queue {
		q, err := open(t).Queue(opts)
		if err != nil {
			t.Fatal(err)
		}
		return q
	})
}

func BenchmarkReads(b *testing.B) {
	catalogtest.Bench(b, open(b))
}

func migrations(t *testing.T, db *DB) []int {
	t.Helper()
	rows, _ := db.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	v, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Replicas starting together migrate once (the advisory lock), and a
// reopen applies nothing.
func TestOpenConcurrently(t *testing.T) {
	dsn := pgtest.DSN(t)
	dbs := make([]*DB, 4)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() {
			db, err := Open(ctx, dsn)
			if err != nil {
				t.Error(err)
				return
			}
			dbs[i] = db
		})
	}
	wg.Wait()
	for _, db := range dbs {
		if db != nil {
			defer db.Close()
		}
	}
	if t.Failed() {
		return
	}
	want := migrations(t, dbs[0])
	if len(want) == 0 || want[0] != 1 {
		t.Fatalf("schema_migrations = %v", want)
	}
	var riverTables int
	if err := dbs[0].pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename IN ('river_job', 'river_migration', 'river_queue', 'river_leader')`).Scan(&riverTables); err != nil {
		t.Fatal(err)
	}
	if riverTables != 4 {
		t.Errorf("%d of River's tables exist, want 4", riverTables)
	}
	if _, err := dbs[1].CreateUser(ctx, "ann", zoo.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := migrations(t, again); !slices.Equal(got, want) {
		t.Errorf("after reopening, schema_migrations = %v, want %v", got, want)
	}
	if _, err := again.UserByName(ctx, "ann"); err != nil {
		t.Error(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO schema_migrations VALUES (999, '0999_future.sql', now())`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, dsn); err == nil {
		t.Fatal("Open accepted a database from a newer zoo")
	}
}

func TestOpenBadDSN(t *testing.T) {
	if _, err := Open(ctx, "postgres://%zz"); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("Open(bad URL) = %v, want Invalid", err)
	}
}

// An id stays used after its model is deleted (no Catalog method deletes
// models yet; an operator's cleanup would).
func TestUsedIDsOutliveModels(t *testing.T) {
	db := open(t)
	u, _ := db.CreateUser(ctx, "ann", zoo.RoleContributor)
	if err := db.CreateVersion(ctx, &zoo.Model{ID: "gone-gnu", OwnerID: u.ID}, &zoo.Version{UploaderID: u.ID},
		zoo.AuditEntry{ActorID: u.ID, Action: "upload"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM models WHERE id = 'gone-gnu'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Model(ctx, "gone-gnu"); zoo.KindOf(err) != zoo.NotFound {
		t.Fatalf("Model after delete: %v", err)
	}
	if err := db.CreateModel(ctx, &zoo.Model{ID: "gone-gnu", OwnerID: u.ID}); zoo.KindOf(err) != zoo.Conflict {
		t.Fatalf("CreateModel with a deleted model's id: %v, want Conflict", err)
	}
}

// TestQueueDeadWorker crashes a worker process in the middle of a job and
// checks that another worker re-runs it within seconds (issue 15).
func TestQueueDeadWorker(t *testing.T) {
	if store := os.Getenv(queuetest.CrashEnv); store != "" {
		queuetest.Crash(t, func(opts queue.Options) (*queue.Queue, error) {
			db, err := Open(ctx, store)
			if err != nil {
				return nil, err
			}
			return db.Queue(opts)
		})
		return
	}
	for name, check := range map[string]func(*testing.T, string, string, func(queue.Options) (*queue.Queue, error)){
		"Requeued": queuetest.DeadWorker, "LastAttempt": queuetest.LastAttempt,
	} {
		t.Run(name, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			db, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			check(t, "TestQueueDeadWorker", dsn, func(opts queue.Options) (*queue.Queue, error) { return db.Queue(opts) })
		})
	}
}
