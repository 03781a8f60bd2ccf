package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
)

func newChallengeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "challenge",
		Short: "Create challenges, submit to them and read their leaderboards on a zoo server",
		Long: `challenge talks to a zoo server's challenge platform (/api/v1/challenges).

  zoo challenge create --spec challenge.json --public F… --input F… --truth F…
  zoo challenge submit SLUG PHASE PREDICTIONS (a .zip, or a folder zipped for you)
  zoo challenge submit SLUG PHASE --model ID/N
  zoo challenge leaderboard SLUG PHASE [--csv | --json]
  zoo challenge update SLUG [--title T] [--description-file F] [--phase NAME --opens T --closes T --per-day N --total N]
  zoo challenge withdraw SLUG SUBMISSION
  zoo challenge disqualify SLUG SUBMISSION --reason TEXT   (or --reinstate)

` + remoteHelp,
	}
	cmd.AddCommand(newChallengeCreateCmd(), newChallengeSubmitCmd(), newChallengeLeaderboardCmd(),
		newChallengeUpdateCmd(), newChallengeWithdrawCmd(), newChallengeDisqualifyCmd())
	return cmd
}

// challengeAPI sends one request to the challenge API and decodes a JSON
// answer into out (nil: the body is copied to raw).
func challengeAPI(ctx context.Context, rf *remoteFlags, method, path, ctype string, body io.Reader, out any, raw io.Writer) error {
	c, err := rf.client()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Server(), "/")+path, body)
	if err != nil {
		return usageErr("--server: %v", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	token := rf.token
	if token == "" {
		token = os.Getenv("ZOO_TOKEN")
	}
	if token = strings.TrimSpace(token); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return zoo.E("challenge", zoo.Unavailable, err, "cannot reach the zoo server at %s; check --server and that it is running", c.Server())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return zoo.E("challenge", zoo.Unavailable, err, "the server's answer was cut off")
	}
	if resp.StatusCode/100 != 2 {
		var p struct {
			Detail string `json:"detail"`
		}
		json.Unmarshal(data, &p)
		if p.Detail == "" {
			p.Detail = resp.Status
		}
		return remoteErr(zoo.E("", kindOfStatus(resp.StatusCode), nil, "%s", p.Detail))
	}
	if out == nil {
		_, err := raw.Write(data)
		return err
	}
	return json.Unmarshal(data, out)
}

// kindOfStatus maps an HTTP status back to a Kind (as package client does).
func kindOfStatus(status int) zoo.Kind {
	switch status {
	case 400, 422:
		return zoo.Invalid
	case 401:
		return zoo.Unauthorized
	case 403:
		return zoo.Forbidden
	case 404:
		return zoo.NotFound
	case 409:
		return zoo.Conflict
	case 413:
		return zoo.TooLarge
	case 501:
		return zoo.NotSupported
	case 503:
		return zoo.Unavailable
	}
	return zoo.Internal
}

func newChallengeCreateCmd() *cobra.Command {
	var rf remoteFlags
	var spec string
	var public, inputs, truths []string
	cmd := &cobra.Command{
		Use:   "create --spec challenge.json --input FILE… --truth FILE… [--public FILE…]",
		Short: "Create a challenge (reviewers and admins)",
		Long: `create uploads a challenge: --spec is its JSON (slug, title, description in
markdown, organisers, leaderboard public|hidden, metrics [{"name", "threshold",
"data_range"}], ranking metric|mean-rank, phases [{"name", "opens_at",
"closes_at", "per_day", "total"}]); --input and --truth are the hidden test
inputs and their ground truths (.npy or .tif, paired by name without
extension); --public files are downloadable by anyone. Flags repeat.

` + remoteHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if spec == "" || len(inputs) == 0 || len(truths) == 0 {
				return usageErr("create needs --spec, --input and --truth\nRun 'zoo challenge create --help' for usage.")
			}
			specData, err := os.ReadFile(spec)
			if err != nil {
				return usageErr("--spec: %v", err)
			}
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			part, _ := mw.CreateFormField("challenge")
			part.Write(specData)
			for _, group := range []struct {
				kind  string
				files []string
			}{{challenge.Public, public}, {challenge.Input, inputs}, {challenge.Truth, truths}} {
				for _, f := range group.files {
					data, err := os.ReadFile(f)
					if err != nil {
						return usageErr("--%s: %v", group.kind, err)
					}
					w, _ := mw.CreateFormFile(group.kind, filepath.Base(f))
					w.Write(data)
				}
			}
			mw.Close()
			var c challenge.Challenge
			if err := challengeAPI(cmd.Context(), &rf, "POST", "/api/v1/challenges", mw.FormDataContentType(), &body, &c, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created challenge %s (%s): /challenges/%s\n", c.Slug, c.Title, c.Slug)
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&spec, "spec", "", "the challenge as JSON")
	cmd.Flags().StringArrayVar(&public, "public", nil, "a public file (repeat)")
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "a test input (repeat)")
	cmd.Flags().StringArrayVar(&truths, "truth", nil, "a hidden ground truth (repeat)")
	return cmd
}

func newChallengeSubmitCmd() *cobra.Command {
	var rf remoteFlags
	var model string
	var wait time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "submit SLUG PHASE (PREDICTIONS.zip | FOLDER | --model ID/N) [--wait 2m] [--json]",
		Short: "Submit predictions or a published model to a challenge",
		Long: `submit sends predictions — a zip holding one .npy or .tif per test input,
named like it, or a folder of such files, zipped for you — or a published
model ID/N that the server runs on the test inputs. An invalid submission
is refused at once with the file and the reason, and does not count against
the limits. With --wait, submit waits for the score and prints it (scores of
a hidden leaderboard stay hidden until the phase closes).

` + remoteHelp,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			slug, phase := args[0], args[1]
			var body io.Reader
			var ctype string
			switch {
			case model != "" && len(args) == 3:
				return usageErr("give predictions or --model, not both")
			case model != "":
				b, _ := json.Marshal(map[string]string{"model": model})
				body, ctype = bytes.NewReader(b), "application/json"
			case len(args) == 3:
				data, err := predictionsZip(args[2])
				if err != nil {
					return err
				}
				body, ctype = bytes.NewReader(data), "application/zip"
			default:
				return usageErr("give the predictions (a zip or a folder) or --model ID/N\nRun 'zoo challenge submit --help' for usage.")
			}
			path := "/api/v1/challenges/" + url.PathEscape(slug)
			var s challenge.Submission
			if err := challengeAPI(cmd.Context(), &rf, "POST", path+"/phases/"+url.PathEscape(phase)+"/submissions", ctype, body, &s, nil); err != nil {
				return err
			}
			deadline := time.Now().Add(wait)
			for s.Status == challenge.StatusQueued && time.Now().Before(deadline) {
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(time.Second):
				}
				if err := challengeAPI(cmd.Context(), &rf, "GET", path+"/submissions/"+strconv.FormatInt(s.ID, 10), "", nil, &s, nil); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(&s)
			}
			fmt.Fprintf(out, "submission %d to %s/%s: %s", s.ID, slug, phase, s.Status)
			if s.Message != "" {
				fmt.Fprintf(out, ": %s", s.Message)
			}
			fmt.Fprintln(out)
			keys := make([]string, 0, len(s.Scores))
			for k := range s.Scores {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(out, "  %s: %s\n", k, valueText(s.Scores[k]))
			}
			if s.Status == challenge.StatusFailed {
				return &exitError{code: 1, err: fmt.Errorf("submission %d failed: %s", s.ID, s.Message)}
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&model, "model", "", "submit a published model ID/N instead of predictions")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the score")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the submission record as JSON")
	return cmd
}

// predictionsZip reads a zip, or zips the .npy/.tif/.tiff files of a
// folder (top level only).
func predictionsZip(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if !st.IsDir() {
		return os.ReadFile(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	n := 0
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".npy", ".tif", ".tiff":
		default:
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, usageErr("%v", err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name(), Method: zip.Store})
		if err != nil {
			return nil, err
		}
		w.Write(data)
		n++
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, usageErr("%s holds no .npy or .tif files", path)
	}
	return b.Bytes(), nil
}

func valueText(v challenge.Value) string {
	f := float64(v)
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

func newChallengeLeaderboardCmd() *cobra.Command {
	var rf remoteFlags
	var asCSV, asJSON bool
	cmd := &cobra.Command{
		Use:   "leaderboard SLUG PHASE [--csv | --json]",
		Short: "Print the leaderboard of a challenge's phase",
		Long: `leaderboard prints each participant's best submission, ranked by the
challenge's rule; equal scores share a rank ("1224" competition ranking).
--csv and --json print the server's exports as they are.

` + remoteHelp,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/v1/challenges/" + url.PathEscape(args[0]) + "/phases/" + url.PathEscape(args[1]) + "/leaderboard"
			out := cmd.OutOrStdout()
			switch {
			case asCSV:
				return challengeAPI(cmd.Context(), &rf, "GET", path+".csv", "", nil, nil, out)
			case asJSON:
				return challengeAPI(cmd.Context(), &rf, "GET", path, "", nil, nil, out)
			}
			var doc struct {
				Ranking string             `json:"ranking"`
				Metrics []challenge.Metric `json:"metrics"`
				Ties    string             `json:"ties"`
				Rows    []challenge.Row    `json:"rows"`
			}
			if err := challengeAPI(cmd.Context(), &rf, "GET", path, "", nil, &doc, nil); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
			head := "rank\tparticipant\tsubmission"
			for _, m := range doc.Metrics {
				head += "\t" + m.Key()
			}
			if doc.Ranking == challenge.RankMeanRank {
				head += "\tmean rank"
			}
			fmt.Fprintln(tw, head)
			for _, r := range doc.Rows {
				line := fmt.Sprintf("%d\t%s\t%d %s %s", r.Rank, r.Submission.User, r.Submission.ID, r.Submission.Kind, r.Submission.Model)
				for _, m := range doc.Metrics {
					line += "\t" + valueText(r.Submission.Scores[m.Key()])
				}
				if doc.Ranking == challenge.RankMeanRank {
					line += "\t" + strconv.FormatFloat(r.MeanRank, 'f', 2, 64)
				}
				fmt.Fprintln(tw, line)
			}
			tw.Flush()
			fmt.Fprintf(out, "ties: %s\n", doc.Ties)
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print the CSV export")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON export")
	return cmd
}

func newChallengeUpdateCmd() *cobra.Command {
	var rf remoteFlags
	var title, descFile, phase, opens, closes string
	var perDay, total int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update SLUG [--title T] [--description-file F] [--phase NAME --opens T --closes T --per-day N --total N] [--json]",
		Short: "Edit a challenge (its creator, named organisers and admins)",
		Long: `update changes only the fields given: the title, the description (markdown,
read from --description-file), and of the phase named by --phase its opening
and closing times (RFC 3339, e.g. 2026-06-01T00:00:00Z) and its submission
limits per participant (--per-day, --total). A phase must close after it
opens; limits are at least 1. Lowering a limit keeps the submissions already
made and only refuses new ones. The hidden data cannot be changed. The server
records who changed what, shown with --json in "changes".

` + remoteHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			patch := map[string]any{}
			if f.Changed("title") {
				patch["title"] = title
			}
			if descFile != "" {
				b, err := os.ReadFile(descFile)
				if err != nil {
					return usageErr("--description-file: %v", err)
				}
				patch["description"] = string(b)
			}
			ph := map[string]any{}
			for _, t := range []struct {
				flag, field string
				v           *string
			}{{"opens", "opens_at", &opens}, {"closes", "closes_at", &closes}} {
				if f.Changed(t.flag) {
					at, err := time.Parse(time.RFC3339, *t.v)
					if err != nil {
						return usageErr("--%s %q: give an RFC 3339 time such as 2026-06-01T00:00:00Z", t.flag, *t.v)
					}
					ph[t.field] = at
				}
			}
			if f.Changed("per-day") {
				ph["per_day"] = perDay
			}
			if f.Changed("total") {
				ph["total"] = total
			}
			switch {
			case len(ph) > 0 && phase == "":
				return usageErr("--opens, --closes, --per-day and --total need --phase NAME")
			case phase != "" && len(ph) == 0:
				return usageErr("--phase %s: say what changes (--opens, --closes, --per-day, --total)", phase)
			case phase != "":
				ph["name"] = phase
				patch["phases"] = []any{ph}
			}
			if len(patch) == 0 {
				return usageErr("nothing to change: give --title, --description-file or --phase with its changes\nRun 'zoo challenge update --help' for usage.")
			}
			body, _ := json.Marshal(patch)
			var c challenge.Challenge
			if err := challengeAPI(cmd.Context(), &rf, "PATCH", "/api/v1/challenges/"+url.PathEscape(args[0]), "application/merge-patch+json", bytes.NewReader(body), &c, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(&c)
			}
			fmt.Fprintf(out, "updated challenge %s (%s)\n", c.Slug, c.Title)
			for _, p := range c.Phases {
				fmt.Fprintf(out, "  %s: %s – %s, %d per day, %d in total\n", p.Name, p.OpensAt.Format(time.RFC3339), p.ClosesAt.Format(time.RFC3339), p.PerDay, p.Total)
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&title, "title", "", "the new title")
	cmd.Flags().StringVar(&descFile, "description-file", "", "a markdown file holding the new description")
	cmd.Flags().StringVar(&phase, "phase", "", "the phase that --opens, --closes, --per-day and --total change")
	cmd.Flags().StringVar(&opens, "opens", "", "when the phase opens (RFC 3339)")
	cmd.Flags().StringVar(&closes, "closes", "", "when the phase closes (RFC 3339)")
	cmd.Flags().IntVar(&perDay, "per-day", 0, "submissions per participant and UTC day")
	cmd.Flags().IntVar(&total, "total", 0, "submissions per participant over the phase")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the challenge, with its changes, as JSON")
	return cmd
}

// submissionPath is the API path of submission id (a positive integer) of slug.
func submissionPath(slug, id string) (string, error) {
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n < 1 {
		return "", usageErr("submission %q: give its number, e.g. 12", id)
	}
	return "/api/v1/challenges/" + url.PathEscape(slug) + "/submissions/" + id, nil
}

func newChallengeWithdrawCmd() *cobra.Command {
	var rf remoteFlags
	cmd := &cobra.Command{
		Use:   "withdraw SLUG SUBMISSION",
		Short: "Withdraw one of your submissions while its phase is open",
		Long: `withdraw takes your submission off the leaderboard for good. It stays
recorded and still counts against the phase's submission limits.

` + remoteHelp,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := submissionPath(args[0], args[1])
			if err != nil {
				return err
			}
			var s challenge.Submission
			if err := challengeAPI(cmd.Context(), &rf, "DELETE", path, "", nil, &s, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "submission %d to %s withdrawn\n", s.ID, args[0])
			return nil
		},
	}
	rf.register(cmd)
	return cmd
}

func newChallengeDisqualifyCmd() *cobra.Command {
	var rf remoteFlags
	var reason string
	var reinstate bool
	cmd := &cobra.Command{
		Use:   "disqualify SLUG SUBMISSION (--reason TEXT | --reinstate)",
		Short: "Disqualify a submission, or reinstate it (organisers)",
		Long: `disqualify takes a submission off the leaderboards and their exports; its
submitter sees the reason (at most 500 characters). --reinstate undoes it.

` + remoteHelp,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := submissionPath(args[0], args[1])
			if err != nil {
				return err
			}
			var s challenge.Submission
			switch {
			case reinstate && reason != "":
				return usageErr("give --reason or --reinstate, not both")
			case reinstate:
				err = challengeAPI(cmd.Context(), &rf, "POST", path+"/reinstate", "", nil, &s, nil)
			case reason != "":
				body, _ := json.Marshal(map[string]string{"reason": reason})
				err = challengeAPI(cmd.Context(), &rf, "POST", path+"/disqualify", "application/json", bytes.NewReader(body), &s, nil)
			default:
				return usageErr("disqualify needs --reason TEXT (the participant sees it), or --reinstate")
			}
			if err != nil {
				return err
			}
			if s.Disqualified != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "submission %d to %s disqualified: %s\n", s.ID, args[0], s.Disqualified.Reason)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "submission %d to %s reinstated\n", s.ID, args[0])
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (shown to the participant)")
	cmd.Flags().BoolVar(&reinstate, "reinstate", false, "undo the disqualification")
	return cmd
}
