package sqlite

import (
	"context"
	"os"
	"path/filepath"

	"github.com/zoo-bioimage/zoo"
)

// BackupTo writes consistent copies of the catalog and its queue file into
// dir (which must exist) as zoo.db and zoo.queue.db, while the instance
// runs: each is one VACUUM INTO, a read transaction that sees one state of
// its file (writers are not blocked). The two files are snapshots taken
// one after the other, not together; the queue only holds jobs, which
// start-up passes re-create for pending work.
func (db *DB) BackupTo(ctx context.Context, dir string) error {
	const op = "sqlite.BackupTo"
	catPath := filepath.Join(dir, "zoo.db")
	queuePath := QueuePath(catPath)
	for _, p := range []string{catPath, queuePath} {
		if _, err := os.Stat(p); err == nil {
			return zoo.E(op, zoo.Conflict, nil, "%s exists: back up into an empty folder", p)
		}
	}
	// A connection of its own (the read pool is read-only, and the single
	// writer must stay free for the running instance).
	for _, c := range []struct{ from, to, what string }{{db.path, catPath, "catalog"}, {QueuePath(db.path), queuePath, "job queue"}} {
		h, err := openPool(c.from, nil, 1)
		if err != nil {
			return zoo.E(op, zoo.Internal, err, "cannot open the %s %s", c.what, c.from)
		}
		_, err = h.ExecContext(ctx, `VACUUM INTO ?`, c.to)
		h.Close()
		if err != nil {
			return zoo.E(op, zoo.Internal, err, "cannot copy the %s to %s", c.what, c.to)
		}
	}
	return nil
}
