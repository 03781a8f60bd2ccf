package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/catalog"
	"github.com/zoo-bioimage/zoo/jobadmin"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
)

// jobsFlags choose where zoo jobs works: on a server's admin API
// (--server, --token: an admin's token) or directly on the storage
// (--db/--data, and --blobs for check), as zoo admin does.
type jobsFlags struct {
	remote remoteFlags
	sf     storageFlags
	json   bool
}

const jobsHelp = `Where: with --server URL --token T (an admin's token; defaults $ZOO_SERVER,
$ZOO_TOKEN) it calls the server's admin API; with --db URL (or --data DIR)
it works directly on the storage, as zoo admin does — no server needed
(check also needs --blobs in a scaled-out instance).`

func (f *jobsFlags) register(cmd *cobra.Command) {
	f.remote.register(cmd)
	f.sf.register(cmd, cmd.Name() == "check")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON")
}

// direct reports whether the command works on the storage.
func (f *jobsFlags) direct(cmd *cobra.Command) bool {
	return cmd.Flags().Changed("db") || cmd.Flags().Changed("data")
}

// tools opens the storage and returns the job tools on it.
func (f *jobsFlags) tools(ctx context.Context, withBlobs bool) (*jobadmin.Tools, func(), error) {
	if _, err := adminStorageCheck(f.sf); err != nil {
		return nil, nil, err
	}
	st, err := openStorage(ctx, withMode(f.sf, catalog.MigrateFresh), withBlobs)
	if err != nil {
		return nil, nil, err
	}
	q, err := st.queues.Queue(queue.Options{Routes: jobRoutes, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	svc := repo.New(st.cat, st.blobs, q, repo.Config{TempDir: st.tempDir})
	return &jobadmin.Tools{Queue: q, Repo: svc}, func() { st.Close() }, nil
}

func newJobsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List, retry and cancel background jobs; re-run a test; find stuck tests and missing blobs (admins)",
		Long: `jobs shows an operator the background jobs of an instance (tests,
inference, conversions, challenge scoring, DOI mints; docs/jobs.md) and
repairs them:

  zoo jobs list [--state S] [--kind K] [--json]   jobs, newest first, with age, attempts and last error
  zoo jobs retry ID                               run job ID again now
  zoo jobs cancel ID                              cancel job ID
  zoo jobs retest ID/N                            run version N's test again
  zoo jobs check                                  versions with missing blobs or a stuck test

` + jobsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErr("name a jobs command (list, retry, cancel, retest, check); see zoo jobs --help")
		},
	}
	cmd.AddCommand(newJobsListCmd(), newJobsActCmd("retry"), newJobsActCmd("cancel"), newJobsRetestCmd(), newJobsCheckCmd())
	return cmd
}

func newJobsListCmd() *cobra.Command {
	var f jobsFlags
	var state, kind string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--state S] [--kind K] [--limit N] [--json] (--server URL --token T | --db URL | --data DIR)",
		Short: "List background jobs, newest first, with their age, attempts and last error",
		Long: `list prints the background jobs, newest first: id, kind, state, attempt
(of the maximum), age, the version it is about and its last error.
--state is one of unfinished, available, scheduled, pending, running,
retryable, completed, cancelled, discarded; --kind a job kind (test-version,
infer, convert-version, challenge-eval, mint-doi, …). Finished jobs are
kept a day (completed) to a week (discarded) by the queue.

` + jobsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > jobadmin.MaxList {
				return usageErr("--limit %d: give 1 to %d", limit, jobadmin.MaxList)
			}
			if state != "" && state != "unfinished" && !validState(state) {
				return usageErr("--state %q: give unfinished, available, scheduled, pending, running, retryable, completed, cancelled or discarded", state)
			}
			var jobs []jobadmin.Job
			if f.direct(cmd) {
				t, done, err := f.tools(cmd.Context(), false)
				if err != nil {
					return err
				}
				defer done()
				if jobs, err = t.List(cmd.Context(), jobadmin.Filter{State: state, Kind: kind, Limit: limit}); err != nil {
					return err
				}
			} else {
				c, err := f.remote.client()
				if err != nil {
					return err
				}
				q := url.Values{"limit": {strconv.Itoa(limit)}}
				if state != "" {
					q.Set("state", state)
				}
				if kind != "" {
					q.Set("kind", kind)
				}
				var a jobadmin.ListAnswer
				if err := c.JSON(cmd.Context(), "GET", "/api/v1/admin/jobs", q, &a); err != nil {
					return remoteErr(err)
				}
				jobs = a.Jobs
			}
			out := cmd.OutOrStdout()
			if f.json {
				return writeJSONOut(out, map[string]any{"jobs": nonNilJobs(jobs)})
			}
			writeJobs(out, jobs)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state (or unfinished)")
	cmd.Flags().StringVar(&kind, "kind", "", "only jobs of this kind")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many jobs")
	return cmd
}

func validState(s string) bool {
	for _, st := range queue.States {
		if string(st) == s {
			return true
		}
	}
	return false
}

func nonNilJobs(j []jobadmin.Job) []jobadmin.Job {
	if j == nil {
		return []jobadmin.Job{}
	}
	return j
}

// newJobsActCmd makes zoo jobs retry and zoo jobs cancel.
func newJobsActCmd(act string) *cobra.Command {
	var f jobsFlags
	short := map[string]string{"retry": "Run a job again now (a failed, discarded or cancelled one too)", "cancel": "Cancel a job: it will not run (again); a running one is asked to stop"}[act]
	cmd := &cobra.Command{
		Use:   act + " ID [--json] (--server URL --token T | --db URL | --data DIR)",
		Short: short,
		Long:  short + ". ID is the job's id as zoo jobs list shows it.\n\n" + jobsHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return usageErr("%q is not a job id (a positive whole number, as zoo jobs list shows)", args[0])
			}
			var j *jobadmin.Job
			if f.direct(cmd) {
				t, done, err := f.tools(cmd.Context(), false)
				if err != nil {
					return err
				}
				defer done()
				run := t.Retry
				if act == "cancel" {
					run = t.Cancel
				}
				if j, err = run(cmd.Context(), id); err != nil {
					return remoteErr(err)
				}
			} else {
				c, err := f.remote.client()
				if err != nil {
					return err
				}
				j = &jobadmin.Job{}
				if err := c.JSON(cmd.Context(), "POST", fmt.Sprintf("/api/v1/admin/jobs/%d/%s", id, act), nil, j); err != nil {
					return remoteErr(err)
				}
			}
			return writeJob(cmd.OutOrStdout(), f.json, j, map[string]string{"retry": "retried", "cancel": "cancelled"}[act])
		},
	}
	f.register(cmd)
	return cmd
}

func newJobsRetestCmd() *cobra.Command {
	var f jobsFlags
	cmd := &cobra.Command{
		Use:   "retest ID/N [--json] (--server URL --token T | --db URL | --data DIR)",
		Short: "Run a version's reproducibility test again",
		Long: `retest queues the reproducibility test of version N of model ID again (its
conversion first, when it still waits for one); the stored report is
replaced when a worker has run it. Use it after installing a runtime, or
for a version whose test is stuck (zoo jobs check).

` + jobsHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, n, err := parseRef(args[0], true)
			if err != nil {
				return err
			}
			var j *jobadmin.Job
			if f.direct(cmd) {
				t, done, err := f.tools(cmd.Context(), false)
				if err != nil {
					return err
				}
				defer done()
				if j, err = t.Retest(cmd.Context(), id, n); err != nil {
					return remoteErr(err)
				}
			} else {
				c, err := f.remote.client()
				if err != nil {
					return err
				}
				j = &jobadmin.Job{}
				if err := c.JSON(cmd.Context(), "POST", "/api/v1/admin/models/"+url.PathEscape(id)+"/versions/"+strconv.Itoa(n)+"/retest", nil, j); err != nil {
					return remoteErr(err)
				}
			}
			return writeJob(cmd.OutOrStdout(), f.json, j, "queued")
		},
	}
	f.register(cmd)
	return cmd
}

func newJobsCheckCmd() *cobra.Command {
	var f jobsFlags
	cmd := &cobra.Command{
		Use:   "check [--json] (--server URL --token T | --db URL --blobs URL | --data DIR)",
		Short: "Find versions whose blobs are missing or whose test is stuck",
		Long: `check lists every version whose blobs (package files, package zip,
converted weights, kept test outputs) are missing from the blob store, and
every version whose test is pending (or conversion waiting) with no job that
will finish it, or with a job unfinished for more than 2 hours — with what
to do about each. It exits 1 when it finds a problem, 0 when none.

` + jobsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep *jobadmin.Report
			if f.direct(cmd) {
				t, done, err := f.tools(cmd.Context(), true)
				if err != nil {
					return err
				}
				defer done()
				if rep, err = t.Check(cmd.Context()); err != nil {
					return err
				}
			} else {
				c, err := f.remote.client()
				if err != nil {
					return err
				}
				rep = &jobadmin.Report{}
				if err := c.JSON(cmd.Context(), "GET", "/api/v1/admin/check", nil, rep); err != nil {
					return remoteErr(err)
				}
			}
			out := cmd.OutOrStdout()
			if f.json {
				if err := writeJSONOut(out, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "checked %d version(s), %d blob(s), %d unfinished test/conversion job(s): %d problem(s)\n", rep.Versions, rep.Blobs, rep.Jobs, len(rep.Problems))
				for _, p := range rep.Problems {
					fmt.Fprintf(out, "%s (%s): %s: %s\n  fix: %s\n", p.Version, p.State, p.Problem, p.Detail, p.Fix)
					for _, m := range p.Missing {
						fmt.Fprintf(out, "  missing blob %s\n", m)
					}
				}
			}
			if len(rep.Problems) > 0 {
				return failed
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJob(w io.Writer, asJSON bool, j *jobadmin.Job, did string) error {
	if asJSON {
		return writeJSONOut(w, j)
	}
	fmt.Fprintf(w, "job %d (%s", j.ID, j.Kind)
	if j.Version != "" {
		fmt.Fprintf(w, " of %s", j.Version)
	}
	fmt.Fprintf(w, "): %s; now %s, attempt %d of %d\n", did, j.State, j.Attempt, j.MaxAttempts)
	return nil
}

func writeJobs(w io.Writer, jobs []jobadmin.Job) {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tATTEMPT\tAGE\tVERSION\tLAST ERROR")
	for _, j := range jobs {
		last := strings.ReplaceAll(j.LastError, "\n", " ")
		if len(last) > 120 {
			last = last[:117] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", j.ID, j.Kind, j.State, j.Attempt, j.MaxAttempts,
			(time.Duration(j.Age) * time.Second).String(), orDash(j.Version), last)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
