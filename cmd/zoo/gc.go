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

	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/repo"
)

func newGCCmd() *cobra.Command {
	var sf storageFlags
	var asJSON bool
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc [--data DIR] [--db URL] [--blobs URL] [--grace DURATION] [--json]",
		Short: "Delete blobs no version refers to (left by interrupted uploads)",
		Long: `gc deletes every blob of the blob store that no version in the catalog
refers to — what an upload interrupted by a crash leaves — and the temporary
files of interrupted writes and uploads older than an hour, and prints how
many blobs it deleted. It is safe to run at any time, beside uploads and
test jobs: a blob stored (or stored again by an upload of the same content)
less than --grace ago (default 1h) is spared, since an upload or a test may
have stored it and not yet recorded the version that refers to it.
--grace 0 collects every unreferenced blob at once: only while nothing
writes.

` + storageHelp + `

Output: "N unreferenced blob(s) deleted"; --json prints {"deleted": N,
"temporary_deleted": M}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openStorage(ctx, withMode(sf, catalog.MigrateFresh), true)
			if err != nil {
				return err
			}
			defer st.Close()
			if grace < 0 {
				return usageErr("--grace %s: give a duration of 0 or more, e.g. 1h", grace)
			}
			cfg := repo.Config{GCGrace: grace}
			if js, ok := st.cat.(interface{ Jobs() jobs.Store }); ok {
				cfg.KeepBlobs = js.Jobs().JobBlobs // inference jobs' images and results
			}
			n, err := repo.New(st.cat, st.blobs, nil, cfg).GC(ctx)
			if err != nil {
				return err
			}
			tmp := 0
			if c, ok := st.blobs.(interface {
				CleanTemp(context.Context, time.Duration) (int, error)
			}); ok {
				if tmp, err = c.CleanTemp(ctx, time.Hour); err != nil {
					return err
				}
			}
			tmp += st.swept + cleanSpool(st.tempDir, time.Hour)
			out := cmd.OutOrStdout()
			if asJSON {
				b, _ := json.Marshal(map[string]int{"deleted": n, "temporary_deleted": tmp})
				fmt.Fprintf(out, "%s\n", b)
				return nil
			}
			fmt.Fprintf(out, "%d unreferenced blob(s) deleted\n", n)
			if tmp > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "zoo gc: %d temporary file(s) of interrupted writes deleted\n", tmp)
			}
			return nil
		},
	}
	sf.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	cmd.Flags().DurationVar(&grace, "grace", repo.DefaultGCGrace, "spare unreferenced blobs stored less than this long ago (uploads and tests in progress); 0 only while nothing writes")
	return cmd
}

// cleanSpool removes what uploads and test jobs left in the data folder's
// tmp/ when their process was killed (older than olderThan), and returns
// how many entries it removed.
func cleanSpool(dir string, olderThan time.Duration) int {
	if dir == "" {
		return 0
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	cutoff := time.Now().Add(-olderThan)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "zoo-upload-") && !strings.HasPrefix(name, "zoo-test-") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			if os.RemoveAll(filepath.Join(dir, name)) == nil {
				n++
			}
		}
	}
	return n
}
