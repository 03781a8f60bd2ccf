package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/postgres"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// schemaDB is what zoo migrate needs of a catalog backend.
type schemaDB interface {
	Schema(ctx context.Context) (*catalog.Schema, error)
	Migrate(ctx context.Context) ([]string, error)
}

var (
	_ schemaDB = (*postgres.DB)(nil)
	_ schemaDB = (*sqlite.DB)(nil)
)

func newMigrateCmd() *cobra.Command {
	var sf storageFlags
	var status, dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate [--status | --dry-run] [--json] (--db URL | --data DIR)",
		Short: "Apply the catalog's pending schema migrations and exit (the upgrade step)",
		Long: `migrate brings the catalog's schema (and its job queue's) up to what this
zoo binary needs, in one transaction, and exits. --status (or --dry-run)
only shows which migrations are applied and which are pending.

Upgrading a scaled-out instance (PostgreSQL):
  1. back up the database (and the bucket: they belong together);
  2. run the new binary's zoo migrate --db URL (once; concurrent runs wait
     for each other under an advisory lock);
  3. restart the replicas and the workers with the new binary.
Running old replicas and workers keep working on the migrated schema
(migrations only add) but an old binary that restarts refuses it
("newer than this zoo binary knows"): roll all of them. Rolling back to
the old binary means restoring the backup taken in step 1.

zoo serve and zoo worker migrate at start by default (an embedded instance
needs nothing else); with --no-migrate they refuse to start unless the
schema is exactly theirs — use it for replicas and workers of a
scaled-out instance so that only zoo migrate changes the schema. zoo
admin, zoo gc and zoo jobs never migrate a database in use (they set up an
empty one, for bootstrapping). Any zoo refuses a schema newer than it
knows.

Exit code: 0 done (--status: the schema is current); 1 --status found
pending migrations or a newer schema; 2 usage errors; 3 other errors.

` + storageHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if status && dryRun {
				return usageErr("give --status or --dry-run, not both (they are the same)")
			}
			ctx := cmd.Context()
			if _, err := adminStorageCheck(sf); err != nil {
				return err
			}
			st, err := openStorage(ctx, withMode(sf, catalog.MigrateOff), false)
			if err != nil {
				return err
			}
			defer st.Close()
			db, ok := st.cat.(schemaDB)
			if !ok {
				return zoo.E("migrate", zoo.Internal, nil, "the catalog %T has no schema migrations", st.cat)
			}
			before, err := db.Schema(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if status || dryRun {
				if asJSON {
					if err := writeJSONOut(out, before); err != nil {
						return err
					}
				} else {
					writeSchema(out, before)
				}
				if before.Newer || len(before.Pending) > 0 || before.QueuePending > 0 {
					return failed
				}
				return nil
			}
			applied, err := db.Migrate(ctx)
			if err != nil {
				return err
			}
			after, err := db.Schema(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONOut(out, map[string]any{"applied": nonNilStrings(applied), "queue_applied": before.QueuePending, "schema": after})
			}
			if len(applied) == 0 && before.QueuePending == 0 {
				fmt.Fprintf(out, "the %s schema is current (version %d); nothing to do\n", after.Backend, after.Current)
				return nil
			}
			for _, name := range applied {
				fmt.Fprintf(out, "applied %s\n", name)
			}
			if before.QueuePending > 0 {
				fmt.Fprintf(out, "applied %d migration(s) of the job queue\n", before.QueuePending)
			}
			fmt.Fprintf(out, "the %s schema is now at version %d; start the replicas and workers of this zoo version\n", after.Backend, after.Current)
			return nil
		},
	}
	sf.register(cmd, false)
	cmd.Flags().BoolVar(&status, "status", false, "show applied and pending migrations; change nothing")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "the same as --status")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeSchema(w io.Writer, s *catalog.Schema) {
	switch {
	case s.Newer:
		fmt.Fprintf(w, "the %s schema is at version %d, newer than this zoo binary knows (%d): upgrade this binary\n", s.Backend, s.Current, s.Known)
	case len(s.Pending) == 0 && s.QueuePending == 0:
		fmt.Fprintf(w, "the %s schema is current (version %d)\n", s.Backend, s.Current)
	default:
		fmt.Fprintf(w, "the %s schema is at version %d; this zoo binary needs %d: run zoo migrate\n", s.Backend, s.Current, s.Known)
	}
	for _, a := range s.Applied {
		fmt.Fprintf(w, "  applied  %s  %s\n", a.AppliedAt.Format("2006-01-02 15:04:05Z"), a.Name)
	}
	for _, p := range s.Pending {
		fmt.Fprintf(w, "  pending  %s\n", p)
	}
	if s.QueuePending > 0 {
		fmt.Fprintf(w, "  pending  %d migration(s) of the job queue (River)\n", s.QueuePending)
	}
}
