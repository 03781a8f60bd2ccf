package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog/catalogtest"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/queue/queuetest"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/session/sessiontest"
)

// catalogtest's per-client download counting skips catalogs without
// CountDownloadOnce; this one must run it.
var _ repo.OnceCounter = (*DB)(nil)

var ctx = context.Background()

func open(t testing.TB) *DB {
	t.Helper()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "zoo.db"))
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
		db := open(t)
		q, err := db.Queue(opts)
		if err != nil {
			t.Fatal(err)
		}
		return q
	})
}

func BenchmarkReads(b *testing.B) {
	catalogtest.Bench(b, open(b))
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zoo.db")
	db, err := Open(ctx, "file:"+path+"?_pragma=cache_size(-4000)&_pragma=synchronous(FULL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "zoo.queue.db")); err != nil {
		t.Errorf("no queue file: %v", err)
	}
	var mode string
	var fk, busy, sync, cache int
	db.write.QueryRow(`PRAGMA synchronous`).Scan(&sync)
	db.write.QueryRow(`PRAGMA cache_size`).Scan(&cache)
	if sync != 2 || cache != -4000 {
		t.Errorf("synchronous %d, cache_size %d; want the DSN's 2 (FULL) and -4000", sync, cache)
	}
	db.read.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	db.read.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	db.write.QueryRow(`PRAGMA busy_timeout`).Scan(&busy)
	if mode != "wal" || fk != 1 || busy != 5000 {
		t.Errorf("journal_mode %s, foreign_keys %d, busy_timeout %d; want wal, 1, 5000", mode, fk, busy)
	}
	if _, err := db.read.Exec(`INSERT INTO used_ids VALUES ('x', 0)`); err == nil {
		t.Error("the read pool accepted a write")
	}
	versions := func(db *DB) []int {
		rows, err := db.read.Query(`SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var v int
			rows.Scan(&v)
			out = append(out, v)
		}
		return out
	}
	want := versions(db)
	if len(want) == 0 || want[0] != 1 {
		t.Fatalf("schema_migrations = %v", want)
	}
	u, err := db.CreateUser(ctx, "ann", zoo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopening applies nothing again and keeps the data.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := versions(db); !slices.Equal(got, want) {
		t.Errorf("after reopening, schema_migrations = %v, want %v", got, want)
	}
	if _, err := db.UserByID(ctx, u.ID); err != nil {
		t.Error(err)
	}

	for _, dsn := range []string{"", ":memory:", "file::memory:", "file:x.db?mode=memory"} {
		if _, err := Open(ctx, dsn); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("Open(%q) = %v, want Invalid", dsn, err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zoo.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.Exec(`INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("Open accepted a database from a newer zoo")
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
	if _, err := db.write.Exec(`DELETE FROM models WHERE id = 'gone-gnu'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Model(ctx, "gone-gnu"); zoo.KindOf(err) != zoo.NotFound {
		t.Fatalf("Model after delete: %v", err)
	}
	if err := db.CreateModel(ctx, &zoo.Model{ID: "gone-gnu", OwnerID: u.ID}); zoo.KindOf(err) != zoo.Conflict {
		t.Fatalf("CreateModel with a deleted model's id: %v, want Conflict", err)
	}
}

// Two DBs on one file stand for two processes: their writers meet in
// SQLite's lock (BEGIN IMMEDIATE, busy_timeout), and numbering stays
// gapless and unique.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zoo.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	u, _ := a.CreateUser(ctx, "ann", zoo.RoleContributor)
	if err := a.CreateModel(ctx, &zoo.Model{ID: "m", OwnerID: u.ID}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var nums []int
	for i := range n {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			v := &zoo.Version{ModelID: "m", UploaderID: u.ID, Name: fmt.Sprint(i)}
			if err := db.CreateVersion(ctx, nil, v, zoo.AuditEntry{ActorID: u.ID, Action: "upload"}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			nums = append(nums, v.Number)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(nums)
	for i, got := range nums {
		if got != i+1 {
			t.Fatalf("numbers %v, want 1..%d", nums, n)
		}
	}
	if len(nums) != n {
		t.Fatalf("%d versions stored, want %d", len(nums), n)
	}
}

func TestQueuePath(t *testing.T) {
	for in, want := range map[string]string{
		"zoo.db":          "zoo.queue.db",
		"/var/lib/zoo.db": "/var/lib/zoo.queue.db",
		"catalog":         "catalog.queue",
		"a.b/c.sqlite":    "a.b/c.queue.sqlite",
	} {
		if got := QueuePath(in); got != want {
			t.Errorf("QueuePath(%q) = %q, want %q", in, got, want)
		}
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
			db := open(t)
			check(t, "TestQueueDeadWorker", db.Path(), func(opts queue.Options) (*queue.Queue, error) { return db.Queue(opts) })
		})
	}
}
