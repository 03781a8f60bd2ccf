package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// Backups (docs/deploy.md, "Backups"): zoo admin backup copies an embedded
// instance while it runs; zoo admin copy-blobs copies a blob store (the
// scale-out backup is pg_dump plus copy-blobs).

// copyStats is what a copy did, for people and --json.
type copyStats struct {
	Blobs   int     `json:"blobs"`   // blobs in the source
	Copied  int     `json:"copied"`  // of which copied (the others were there)
	Bytes   int64   `json:"bytes"`   // bytes copied
	Seconds float64 `json:"seconds"` // time taken
}

// openBlobStore opens a blob store named as --blobs names one: s3://… or a
// folder (created when missing).
func openBlobStore(ctx context.Context, loc string) (zoo.BlobStore, error) {
	if strings.HasPrefix(loc, "s3://") {
		s, err := s3.New(loc)
		if err != nil {
			return nil, err
		}
		if err := s.EnsureBucket(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	if strings.Contains(loc, "://") {
		return nil, usageErr("%q: give s3://BUCKET?endpoint=HOST:PORT or a folder", redact(loc))
	}
	return disk.New(loc)
}

// copyBlobs copies every blob of from that to lacks (same key and size),
// reading each through Put so that its SHA-256 is checked again.
func copyBlobs(ctx context.Context, from, to zoo.BlobStore) (copyStats, error) {
	start := time.Now()
	var st copyStats
	err := from.Walk(ctx, func(sha string, size int64) error {
		st.Blobs++
		if n, err := to.Stat(ctx, sha); err == nil && n == size {
			return nil
		} else if err != nil && zoo.KindOf(err) != zoo.NotFound {
			return err
		}
		b, err := from.Open(ctx, sha)
		if err != nil {
			return err
		}
		got, n, err := to.Put(ctx, b)
		b.Close()
		if err != nil {
			return err
		}
		if got != sha || n != size {
			return zoo.E("copy-blobs", zoo.Internal, nil, "blob %s read back as %s (%d bytes, want %d): the source is damaged", sha, got, n, size)
		}
		st.Copied++
		st.Bytes += n
		return nil
	})
	st.Seconds = time.Since(start).Seconds()
	return st, err
}

func newAdminCopyBlobsCmd() *cobra.Command {
	var from, to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "copy-blobs --from STORE --to STORE [--json]",
		Short: "Copy every blob of one store to another (S3 bucket or folder), for backups and restores",
		Long: `copy-blobs copies the blobs of one store into another: each store is
s3://BUCKET[/PREFIX]?endpoint=HOST:PORT… (as --blobs takes it; the bucket
is created when missing) or a folder. Blobs the target already holds are
skipped, so a repeated copy only adds what is new. Every copied blob is
hashed again on the way. It never deletes anything.

The scale-out backup is pg_dump first, then copy-blobs from the instance's
bucket: blobs are never changed and a referenced blob is never deleted, so
the copy holds every blob the dump names (see docs/deploy.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return usageErr("give --from STORE and --to STORE")
			}
			ctx := cmd.Context()
			src, err := openBlobStore(ctx, from)
			if err != nil {
				return err
			}
			dst, err := openBlobStore(ctx, to)
			if err != nil {
				return err
			}
			st, err := copyBlobs(ctx, src, dst)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d blobs, %d copied (%d bytes) in %.1f s\n", st.Blobs, st.Copied, st.Bytes, st.Seconds)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the store to copy: s3://… or a folder")
	cmd.Flags().StringVar(&to, "to", "", "the store to copy into: s3://… or a folder")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was copied as JSON")
	return cmd
}

func newAdminBackupCmd() *cobra.Command {
	var sf storageFlags
	var to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "backup --data DIR --to NEWDIR [--json]",
		Short: "Back up an embedded instance (SQLite + data folder) while it runs",
		Long: `backup copies an embedded instance into NEWDIR, which must not exist or
be empty, while zoo serve keeps running: the catalog and its job queue as
consistent snapshots (SQLite's VACUUM INTO: NEWDIR/zoo.db and
NEWDIR/zoo.queue.db), then the blobs they reference (NEWDIR/blobs, each
hashed again). NEWDIR is then a data folder: restore by stopping zoo,
moving it in place of the old one (or starting zoo serve --data NEWDIR).

Copying the data folder with cp while zoo runs is not safe: the SQLite
files can be caught between writes. For PostgreSQL use pg_dump and zoo
admin copy-blobs (docs/deploy.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageErr("give --to NEWDIR")
			}
			if isPostgresURL(sf.db) {
				return usageErr("--db is PostgreSQL: back it up with pg_dump, and the blobs with zoo admin copy-blobs (docs/deploy.md)")
			}
			if entries, err := os.ReadDir(to); err == nil && len(entries) > 0 {
				return usageErr("--to %s is not empty: back up into a new folder", to)
			}
			if _, err := adminStorageCheck(sf); err != nil {
				return err
			}
			ctx := cmd.Context()
			start := time.Now()
			st, err := openStorage(ctx, withMode(sf, catalog.MigrateCheck), true) // a backup never changes the schema
			if err != nil {
				return err
			}
			defer st.Close()
			db, ok := st.cat.(*sqlite.DB)
			if !ok {
				return usageErr("backup copies an embedded (SQLite) instance")
			}
			if err := os.MkdirAll(to, 0o750); err != nil {
				return zoo.E("backup", zoo.Invalid, err, "cannot create %s", to)
			}
			if err := db.BackupTo(ctx, to); err != nil {
				return err
			}
			dst, err := disk.New(filepath.Join(to, "blobs"))
			if err != nil {
				return err
			}
			cs, err := copyBlobs(ctx, st.blobs, dst)
			if err != nil {
				return err
			}
			cs.Seconds = time.Since(start).Seconds()
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(cs)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up the catalog, its queue and %d blobs (%d bytes) into %s in %.1f s\n", cs.Blobs, cs.Bytes, to, cs.Seconds)
			return nil
		},
	}
	sf.register(cmd, true)
	cmd.Flags().StringVar(&to, "to", "", "the new folder to back up into")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was copied as JSON")
	return cmd
}
