package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/internal/tmpown"
	"github.com/zoo-bioimage/zoo/postgres"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// storageFlags choose where an instance keeps its catalog and blobs: by
// default everything under one data folder (SQLite + local disk); --db
// postgres://… and --blobs s3://… for replicas that share them.
type storageFlags struct {
	data, db, blobs string
	// migrate is what opening does with the catalog's schema: serve and
	// worker migrate (catalog.MigrateAll) unless --no-migrate
	// (MigrateCheck); admin, gc and jobs only bootstrap an empty database
	// (MigrateFresh); zoo migrate decides itself (MigrateOff).
	migrate  catalog.MigrateMode
	dataFlag *pflag.Flag // to tell a --data given from the default
}

const defaultDataDir = "zoo-data"

const storageHelp = `Storage: by default the catalog is the SQLite file DIR/zoo.db (its job queue
beside it, DIR/zoo.queue.db) and the blobs are files under DIR/blobs, where
DIR is --data (default ./zoo-data). For several replicas and workers give
--db postgres://USER@HOST:PORT/DB (catalog and job queue in PostgreSQL) and
--blobs s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&region=R][&insecure=1]
(credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or in the URL).
--db also takes a SQLite file path, --blobs a folder.`

// registerNoMigrate adds --no-migrate (serve, worker).
func (f *storageFlags) registerNoMigrate(cmd *cobra.Command) {
	cmd.Flags().BoolFunc("no-migrate", "do not migrate the catalog's schema at start; refuse to start unless it is exactly this binary's (run zoo migrate first)", func(string) error {
		f.migrate = catalog.MigrateCheck
		return nil
	})
}

func (f *storageFlags) register(cmd *cobra.Command, blobs bool) {
	cmd.Flags().StringVar(&f.data, "data", "./"+defaultDataDir, "data folder of the embedded storage (SQLite catalog, blob files, temporary files)")
	f.dataFlag = cmd.Flags().Lookup("data")
	cmd.Flags().StringVar(&f.db, "db", "", "catalog and job queue: postgres://… or a SQLite file (default DIR/zoo.db)")
	if blobs {
		cmd.Flags().StringVar(&f.blobs, "blobs", "", "blob store: s3://BUCKET[/PREFIX]?endpoint=HOST:PORT or a folder (default DIR/blobs)")
	}
}

// storage is an opened catalog, blob store and job queue source.
type storage struct {
	cat    zoo.Catalog
	blobs  zoo.BlobStore // nil unless opened with blobs
	queues interface {
		Queue(queue.Options) (*queue.Queue, error)
	}
	tempDir string   // where uploads and test jobs unpack ("" = system default)
	desc    []string // what was opened, for the log
	own     *tmpown.Dir
	swept   int // folders of ended processes removed from tmp/ at start-up
}

// runPrefix names the processes' own folders in the data folder's tmp/.
const runPrefix = "run-"

func (s *storage) Close() error {
	s.own.Release()
	if s.cat != nil {
		return s.cat.Close()
	}
	return nil
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openStorage opens the catalog (and, when blobs is set, the blob store)
// the flags name, creating the data folder where it is used.
func openStorage(ctx context.Context, f storageFlags, blobs bool) (*storage, error) {
	st := &storage{}
	usesData := false
	dataDir := func() (string, error) {
		usesData = true
		if err := os.MkdirAll(f.data, 0o755); err != nil {
			return "", zoo.E("storage", zoo.Invalid, err, "cannot create the data folder %s", f.data)
		}
		return f.data, nil
	}
	switch {
	case isPostgresURL(f.db):
		db, err := postgres.Open(ctx, f.db, f.migrate)
		if err != nil {
			return nil, err
		}
		st.cat, st.queues = db, db
		st.desc = append(st.desc, "catalog PostgreSQL")
	default:
		path := strings.TrimPrefix(f.db, "sqlite:")
		if path == "" {
			dir, err := dataDir()
			if err != nil {
				return nil, err
			}
			path = filepath.Join(dir, "zoo.db")
		} else if strings.Contains(f.db, "://") {
			return nil, usageErr("--db %q: use postgres://USER@HOST:PORT/DB or a SQLite file path", redact(f.db))
		}
		db, err := sqlite.Open(ctx, path, f.migrate)
		if err != nil {
			return nil, err
		}
		st.cat, st.queues = db, db
		st.desc = append(st.desc, "catalog SQLite "+path)
	}
	fail := func(err error) (*storage, error) {
		st.Close()
		return nil, err
	}
	if blobs {
		switch {
		case strings.HasPrefix(f.blobs, "s3://"):
			s, err := s3.New(f.blobs)
			if err != nil {
				return fail(err)
			}
			if err := s.EnsureBucket(ctx); err != nil {
				return fail(err)
			}
			st.blobs = s
			st.desc = append(st.desc, "blobs S3 bucket "+s.Bucket()+"/"+s.Prefix())
		default:
			root := strings.TrimPrefix(f.blobs, "file://")
			if root == "" {
				dir, err := dataDir()
				if err != nil {
					return fail(err)
				}
				root = filepath.Join(dir, "blobs")
			} else if strings.Contains(f.blobs, "://") {
				return fail(usageErr("--blobs %q: use s3://BUCKET?endpoint=HOST:PORT or a folder", redact(f.blobs)))
			}
			s, err := disk.New(root)
			if err != nil {
				return fail(err)
			}
			st.blobs = s
			st.desc = append(st.desc, "blobs in "+root)
		}
	}
	// Each process spools uploads and unpacks tests in a folder of its own
	// (under the data folder's tmp/, else the system's temporary folder);
	// what crashed or killed processes left there is removed now (and,
	// in tmp/, older loose files of earlier versions).
	tmp, prefix := os.TempDir(), "zoo-"+runPrefix
	if usesData {
		tmp, prefix = filepath.Join(f.data, "tmp"), runPrefix
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fail(zoo.E("storage", zoo.Internal, err, "cannot create %s", tmp))
	}
	n, err := tmpown.Sweep(tmp, prefix)
	if err != nil {
		return fail(zoo.E("storage", zoo.Internal, err, "cannot clean %s", tmp))
	}
	if usesData {
		n += cleanSpool(tmp, time.Hour)
	}
	if d, ok := st.blobs.(*disk.Store); ok {
		n += d.Swept
	}
	if st.swept = n; n > 0 {
		st.desc = append(st.desc, fmt.Sprintf("%d leftover(s) of ended processes removed from the temporary folders", n))
	}
	if st.own, err = tmpown.Claim(tmp, prefix); err != nil {
		return fail(zoo.E("storage", zoo.Internal, err, "cannot create a folder in %s", tmp))
	}
	st.tempDir = st.own.Path
	if !usesData && blobs && f.dataFlag != nil && f.dataFlag.Changed {
		st.desc = append(st.desc, "--data "+f.data+" is not used (the catalog and the blobs are elsewhere); temporary files go to "+st.tempDir)
	}
	return st, nil
}

// redact hides a password in a URL given on the command line.
func redact(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if at := strings.Index(s[i+3:], "@"); at >= 0 {
			return s[:i+3] + "…@" + s[i+3+at+1:]
		}
	}
	return s
}

// testHandler is the queue handler of repo.JobTest. svc returns the
// service (made after the queue it enqueues into).
func testHandler(svc func() *repo.Service, log *slog.Logger) queue.Handler {
	return func(ctx context.Context, job *queue.Job) error {
		var args repo.TestArgs
		if err := json.Unmarshal(job.Args, &args); err != nil || args.ID == "" || args.Version < 1 {
			return queue.Cancel(fmt.Errorf("bad arguments %s", job.Args))
		}
		if job.Rescues >= repo.MaxTestCrashes {
			log.Warn("test killed its worker; recorded as failed", "model", args.ID, "version", args.Version, "crashes", job.Rescues)
			return svc().FailCrashedTest(ctx, args, job.Rescues)
		}
		start := time.Now()
		err := svc().RunTest(ctx, args)
		countTest(ctx, svc(), job, err)
		if err != nil {
			log.Warn("test job failed", "model", args.ID, "version", args.Version, "attempt", job.Attempt, "err", err)
			if zoo.KindOf(err) == zoo.NotFound {
				return queue.Cancel(err) // the version is gone
			}
			return err
		}
		log.Info("tested", "model", args.ID, "version", args.Version, "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
}

// withMode returns f opening with migration mode m.
func withMode(f storageFlags, m catalog.MigrateMode) storageFlags {
	f.migrate = m
	return f
}
