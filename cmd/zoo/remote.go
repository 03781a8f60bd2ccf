package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/client"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// remoteFlags are the flags of the commands that talk to a server.
type remoteFlags struct {
	server, token string
}

const defaultServer = "http://127.0.0.1:8080"

const remoteHelp = `--server defaults to $ZOO_SERVER, else ` + defaultServer + ` (zoo serve's
default); --token to $ZOO_TOKEN (create one with zoo admin token).

Exit code: 0 success; 1 the server refused the request (invalid package, not
found, not allowed, conflicting state — the message says why); 2 usage
errors; 3 other errors (e.g. the server cannot be reached).`

func (f *remoteFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "the zoo server's URL (default $ZOO_SERVER or "+defaultServer+")")
	cmd.Flags().StringVar(&f.token, "token", "", "API token (default $ZOO_TOKEN)")
}

// hasToken reports whether the command acts as a user (--token or
// ZOO_TOKEN).
func (f *remoteFlags) hasToken() bool {
	return strings.TrimSpace(f.token) != "" || strings.TrimSpace(os.Getenv("ZOO_TOKEN")) != ""
}

// notPublicHint is what an anonymous caller reads when ref is not found:
// the server answers so for unknown versions and for versions not
// published yet alike (it does not tell strangers which unpublished
// versions exist), so the message says both, and how the uploader sees
// theirs.
func notPublicHint(server, ref, msg string) string {
	return fmt.Sprintf("%s is not published (or does not exist; the server said: %s). "+
		"A version not published yet is shown only to its uploader, the model's maintainers and reviewers, with their token: "+
		"zoo show --server %s %s --token TOKEN (or export ZOO_TOKEN=TOKEN first)", ref, msg, server, ref)
}

func (f *remoteFlags) client() (*client.Client, error) {
	server, token := f.server, f.token
	if server == "" {
		server = os.Getenv("ZOO_SERVER")
	}
	if server == "" {
		server = defaultServer
	}
	if token == "" {
		token = os.Getenv("ZOO_TOKEN")
	}
	c, err := client.New(server, strings.TrimSpace(token))
	if err != nil {
		return nil, usageErr("--server: %s", zoo.MessageOf(err))
	}
	c.UserAgent = "zoo-cli"
	return c, nil
}

// remoteErr makes the server's refusals exit 1 with its message; failures
// to reach it exit 3.
func remoteErr(err error) error {
	switch zoo.KindOf(err) {
	case zoo.Invalid, zoo.NotFound, zoo.Conflict, zoo.Forbidden, zoo.Unauthorized, zoo.TooLarge, zoo.NotSupported:
		return &exitError{code: 1, err: errors.New(zoo.MessageOf(err))}
	}
	return err
}

// parseRef parses ID or ID/N for a command's argument.
func parseRef(ref string, needN bool) (string, int, error) {
	id, n, err := repo.ParseRef(ref)
	if err != nil {
		return "", 0, usageErr("%s", zoo.MessageOf(err))
	}
	if strings.Contains(id, "/") || strings.Count(strings.Trim(ref, "/"), "/") > 1 {
		return "", 0, usageErr("%q: name a version as ID or ID/N", ref)
	}
	if needN && n == 0 {
		return "", 0, usageErr("%q: name the version as ID/N", ref)
	}
	return id, n, nil
}

func newUploadCmd() *cobra.Command {
	var rf remoteFlags
	var draft, asJSON bool
	var model string
	cmd := &cobra.Command{
		Use:   "upload --server URL --token T PATH [--draft] [--model ID] [--json]",
		Short: "Upload a model package to a zoo server as a new version",
		Long: `upload packages PATH — a package folder, a package zip or a description
yaml with the files it references — as zoo package does, and streams the
zip to the server, which validates it, stores it as a new version and queues
its reproducibility test. The version is submitted for review, or kept as a
draft with --draft. A description whose id is a model you maintain adds a
version to it; --model ID says so explicitly; otherwise the upload creates
a new model with a new id.

Output: the new version (ID/N, state); --json prints {"id", "version",
"state"}, and "duplicate_of": ["ID/N", …] when versions you may see already
hold the same content (the upload stands: the text output prints the zoo
withdraw command that takes it back). An invalid description prints its report as zoo validate does
(with --json, as zoo validate --json) and exits 1.

` + remoteHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			report := func(r *spec.Report) {
				if asJSON {
					writeReportJSON(out, r)
				} else {
					writeReportText(out, r)
				}
			}
			pkg, res, err := bundle.Build(args[0], bundle.BuildOptions{})
			if err != nil {
				if res != nil && !res.Report.OK() {
					report(res.Report)
					return failed
				}
				return packageErr(err)
			}
			defer pkg.Close()
			v, err := uploadPackage(cmd.Context(), c, pkg, client.UploadOptions{Draft: draft, ModelID: model})
			if err != nil {
				if rep := client.Report(err); rep != nil {
					report(rep)
					return failed
				}
				return remoteErr(err)
			}
			if asJSON {
				res := map[string]any{"id": v.ModelID, "version": v.Number, "state": v.State}
				if len(v.DuplicateOf) > 0 {
					res["duplicate_of"] = v.DuplicateOf
				}
				b, _ := json.Marshal(res)
				fmt.Fprintf(out, "%s\n", b)
				return nil
			}
			fmt.Fprintf(out, "✔ uploaded %s (%s): %s; its test is %s\n", v.Ref(), v.Name, v.State, v.TestStatus)
			if len(v.DuplicateOf) > 0 {
				fmt.Fprintf(out, "⚠ %s has the same content as %s (the same files; only the model id differs).\n", v.Ref(), strings.Join(v.DuplicateOf, ", "))
				fmt.Fprintf(out, "  If you did not mean to upload it again, withdraw it with: %s\n", withdrawCmd(c.Server(), v.Ref(), rf.token != ""))
			}
			fmt.Fprintf(out, "  follow it with: %s\n", followUp(c.Server(), v.Ref(), string(v.State), rf.token != ""))
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&draft, "draft", false, "keep the version as a draft (not submitted for review)")
	cmd.Flags().StringVar(&model, "model", "", "add the version to this model (you must maintain it)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result (or the validation report) as JSON")
	return cmd
}

// uploadPackage streams the package's deterministic zip to the server.
// followUp is the command that shows an uploaded version. A version that
// is not public yet is shown only to its uploader, so the command needs the
// token: where it came from ZOO_TOKEN the command reads it again as
// printed; a token given with --token is not echoed into the output (logs
// keep it), the command names it TOKEN and says how to leave it out.
func followUp(server, ref, state string, tokenFlag bool) string {
	cmd := fmt.Sprintf("zoo show --server %s %s", server, ref)
	if zoo.State(state).Public() || !tokenFlag {
		return cmd
	}
	return cmd + " --token TOKEN\n  (TOKEN: the token you uploaded with; after export ZOO_TOKEN=TOKEN the command works without --token)"
}

// withdrawCmd is the command that withdraws an upload, with the token as
// followUp passes it.
func withdrawCmd(server, ref string, tokenFlag bool) string {
	cmd := fmt.Sprintf("zoo withdraw --server %s %s", server, ref)
	if tokenFlag {
		cmd += " --token TOKEN"
	}
	return cmd
}

func newWithdrawCmd() *cobra.Command {
	var rf remoteFlags
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "withdraw --server URL --token T ID/N [--reason TEXT] [--json]",
		Short: "Withdraw a version you uploaded that is not published yet",
		Long: `withdraw takes back version N of model ID — a draft, submitted or
changes-requested version — as its uploader or one of the model's
maintainers: it becomes rejected, with the review comment "withdrawn by its
uploader" (and --reason), and leaves the review queue. Published versions
are retired instead (by their maintainers or an admin).

Output: the version's new state; --json prints its record.

` + remoteHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, n, err := parseRef(args[0], true)
			if err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.Withdraw(cmd.Context(), id, n, reason)
			if err != nil {
				return remoteErr(err)
			}
			printVersionResult(cmd.OutOrStdout(), v, asJSON, "✔ %s (%s) is withdrawn (now %s)\n")
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept with the version)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version record as JSON")
	return cmd
}

func uploadPackage(ctx context.Context, c *client.Client, pkg *bundle.Package, opts client.UploadOptions) (*client.Version, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, err := bundle.Write(pw, pkg)
		pw.CloseWithError(err)
	}()
	v, err := c.Upload(ctx, pr, opts)
	pr.CloseWithError(errors.New("the upload ended")) // stops the writer if the server answered early
	<-done
	return v, err
}

func newShowCmd() *cobra.Command {
	var rf remoteFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show --server URL ID[/N] [--token T] [--json]",
		Short: "Show a version of a model on a zoo server",
		Long: `show prints a version's record: ID the latest published version of the
model, ID/N version N. Unpublished versions are visible (with --token) to
their uploader, the model's maintainers and reviewers; without a token the
server answers for them as for unknown ones, and show says so and prints
the command with --token.

Output: a summary — state (draft, submitted, changes-requested, published,
rejected, retired), test status (pending, passed, failed, or not-supported
when no weight format of the model can run on the server), files; --json
prints the record as the server sends it, with "id", "version", "state",
"test_status", "files" and the reports.

` + remoteHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, n, err := parseRef(args[0], false)
			if err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.Get(cmd.Context(), id, n)
			if err != nil {
				if zoo.KindOf(err) == zoo.NotFound && !rf.hasToken() {
					return &exitError{code: 1, err: errors.New(notPublicHint(c.Server(), args[0], zoo.MessageOf(err)))}
				}
				return remoteErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				fmt.Fprintf(out, "%s\n", strings.TrimSpace(string(v.Raw)))
				return nil
			}
			writeVersionText(out, v)
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version record as JSON")
	return cmd
}

// writeVersionText summarises a version record.
func writeVersionText(w io.Writer, v *client.Version) {
	fmt.Fprintf(w, "%s  %s\n", v.Ref(), v.Name)
	fmt.Fprintf(w, "  state: %s   test: %s   format: %s\n", v.State, v.TestStatus, v.FormatVersion)
	if v.RetiredReason != "" {
		fmt.Fprintf(w, "  retired: %s\n", v.RetiredReason)
	}
	if v.ReviewComment != "" {
		fmt.Fprintf(w, "  review: %s\n", v.ReviewComment)
	}
	var rep struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if json.Unmarshal(v.TestReport, &rep) == nil && rep.Message != "" {
		fmt.Fprintf(w, "  test report: %s: %s\n", rep.Status, rep.Message)
	}
	if v.PublishedAt != nil {
		fmt.Fprintf(w, "  published: %s\n", v.PublishedAt.Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintf(w, "  package: %s, sha256 %s, %d download(s)\n", humanBytes(v.PackageSize), v.PackageSHA256, v.Downloads)
	for _, f := range v.Files {
		fmt.Fprintf(w, "  %10s  %s  %s\n", humanBytes(f.Size), shortSHA(f.SHA256), f.Path)
	}
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func newReviewCmd() *cobra.Command {
	var rf remoteFlags
	var comment string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "review --server URL --token T accept|request-changes|reject ID/N [--comment TEXT]",
		Short: "Accept (publish), request changes to, or reject a submitted version",
		Long: `review records a reviewer's decision on version N of model ID:

  accept           publishes it at once (its test must have passed, or be
                   not-supported: no weight format can run on the server);
  request-changes  sends it back to its uploader (say what in --comment);
  reject           refuses it for good.

Reviewers never review their own uploads.

Output: the version's new state; --json prints its record.

` + remoteHelp,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			action := args[0]
			switch action {
			case repo.Accept, repo.RequestChanges, repo.Reject:
			default:
				return usageErr("unknown review action %q: use accept, request-changes or reject", action)
			}
			id, n, err := parseRef(args[1], true)
			if err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, err := c.Review(cmd.Context(), id, n, action, comment)
			if err != nil {
				return remoteErr(err)
			}
			printVersionResult(cmd.OutOrStdout(), v, asJSON, "✔ %s (%s) is now %s\n")
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&comment, "comment", "", "a comment for the uploader (required with request-changes)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version record as JSON")
	return cmd
}

func newDownloadCmd() *cobra.Command {
	var rf remoteFlags
	var dir string
	var asJSON, converted bool
	cmd := &cobra.Command{
		Use:   "download --server URL ID[/N] -o DIR [--converted] [--token T] [--json]",
		Short: "Download a version's package files into a folder",
		Long: `download fetches the package zip of a version — ID the latest published
version, ID/N version N — checks it safely (no paths leaving the package,
no links, size limits), verifies the sha256 of the zip and of every file
against the version record, and only then writes the files into DIR
(created if missing; files of the same names are replaced). The
description is rdf.yaml, with the model's id.

The package is the one uploaded. With --converted it is the package with
the weights the server converted from PyTorch state-dict weights
(TorchScript and ONNX, added to the description with parent
pytorch_state_dict): what the server runs. zoo export triton takes that one
when the version has it.

Output: a summary; --json prints {"id", "version", "dir", "files": [{"path",
"sha256", "size"}]}.

` + remoteHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usageErr("-o DIR is required: name the folder to write the files into")
			}
			id, n, err := parseRef(args[0], false)
			if err != nil {
				return err
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			v, files, err := download(cmd.Context(), c, id, n, dir, converted)
			if err != nil {
				return remoteErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, _ := json.Marshal(map[string]any{"id": v.ModelID, "version": v.Number, "dir": dir, "files": files})
				fmt.Fprintf(out, "%s\n", b)
				return nil
			}
			var total int64
			for _, f := range files {
				total += f.Size
			}
			fmt.Fprintf(out, "✔ %s (%s) → %s: %d files, %s, every sha256 verified\n", v.Ref(), v.Name, dir, len(files), humanBytes(total))
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVarP(&dir, "output", "o", "", "the folder to write the files into")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&converted, "converted", false, "the package with the server's converted weights")
	return cmd
}

// download fetches version n of model id (n = 0: the latest published) and
// writes its files into dir after verifying them.
func download(ctx context.Context, c *client.Client, id string, n int, dir string, converted bool) (*client.Version, []zoo.File, error) {
	const op = "download"
	// The record first, so that the zip is that of the version it
	// describes even if a newer one is published meanwhile.
	v, err := c.Get(ctx, id, n)
	if err != nil {
		return nil, nil, err
	}
	wantSHA, wantSize := v.PackageSHA256, v.PackageSize
	var d *client.Download
	if converted {
		cv := v.Converted
		if cv == nil || cv.Package == nil {
			why := "the server converted no weights of it"
			if repo.Waiting(&v.Version) {
				why = "it is waiting for a converter"
			}
			return nil, nil, zoo.E(op, zoo.NotFound, nil, "%s has no package with converted weights: %s; download it without --converted", v.Ref(), why)
		}
		wantSHA, wantSize = cv.Package.SHA256, cv.Package.Size
		v.Files = repo.RunnableFiles(&v.Version) // what the zip holds
		d, err = c.ConvertedPackage(ctx, v.ModelID, v.Number)
	} else {
		d, err = c.Package(ctx, v.ModelID, v.Number)
	}
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	tmp, err := os.CreateTemp("", "zoo-download-*.zip")
	if err != nil {
		return nil, nil, zoo.E(op, zoo.Internal, err, "cannot create a temporary file")
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), d)
	if err != nil {
		return nil, nil, zoo.E(op, zoo.Unavailable, err, "the download of %s was interrupted; try again", v.Ref())
	}
	if sum := hex.EncodeToString(h.Sum(nil)); wantSHA != "" && (sum != wantSHA || size != wantSize) {
		return nil, nil, zoo.E(op, zoo.Conflict, nil, "the package of %s has sha256 %s (%d bytes), but its record says %s (%d bytes); nothing was written", v.Ref(), sum, size, wantSHA, wantSize)
	}
	pkg, err := bundle.OpenZip(tmp, size, bundle.Limits{})
	if err != nil {
		return nil, nil, err
	}
	defer pkg.Close()
	files := pkg.Files()
	if err := sameFiles(v, files); err != nil {
		return nil, nil, err
	}
	if err := writeFiles(pkg, files, dir); err != nil {
		return nil, nil, err
	}
	return v, files, nil
}

// sameFiles checks that the zip holds exactly the files of the record.
func sameFiles(v *client.Version, got []zoo.File) error {
	want := map[string]zoo.File{}
	for _, f := range v.Files {
		want[f.Path] = f
	}
	for _, f := range got {
		w, ok := want[f.Path]
		switch {
		case !ok:
			return zoo.E("download", zoo.Conflict, nil, "the package of %s holds %s, which its record does not list; nothing was written", v.Ref(), f.Path)
		case w.SHA256 != f.SHA256 || w.Size != f.Size:
			return zoo.E("download", zoo.Conflict, nil, "%s of %s has sha256 %s (%d bytes), but its record says %s (%d bytes); nothing was written", f.Path, v.Ref(), f.SHA256, f.Size, w.SHA256, w.Size)
		}
		delete(want, f.Path)
	}
	if len(want) > 0 {
		var missing []string
		for p := range want {
			missing = append(missing, p)
		}
		sort.Strings(missing)
		return zoo.E("download", zoo.Conflict, nil, "the package of %s lacks %s; nothing was written", v.Ref(), strings.Join(missing, ", "))
	}
	return nil
}

// writeFiles writes the package's files under dir. Each file goes to a
// temporary name first and is renamed into place when complete; os.Root
// keeps every path inside dir.
func writeFiles(pkg *bundle.Package, files []zoo.File, dir string) error {
	const op = "download"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return zoo.E(op, zoo.Invalid, err, "cannot create %s", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return zoo.E(op, zoo.Invalid, err, "cannot open %s", dir)
	}
	defer root.Close()
	for _, f := range files {
		name := filepath.FromSlash(f.Path)
		if !filepath.IsLocal(name) {
			return zoo.E(op, zoo.Invalid, nil, "the package names a file outside its folder: %q", f.Path)
		}
		if d := path.Dir(f.Path); d != "." {
			if err := root.MkdirAll(filepath.FromSlash(d), 0o755); err != nil {
				return zoo.E(op, zoo.Invalid, err, "cannot create %s", filepath.Join(dir, filepath.FromSlash(d)))
			}
		}
		if err := writeFile(root, pkg, f, name); err != nil {
			return zoo.E(op, zoo.Invalid, err, "cannot write %s", filepath.Join(dir, name))
		}
	}
	return nil
}

func writeFile(root *os.Root, pkg *bundle.Package, f zoo.File, name string) error {
	src, err := pkg.Open(f.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".zoo-download")
	dst, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(dst, h), src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		err = fmt.Errorf("its content changed while it was written")
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	return root.Rename(tmp, name)
}

// printVersionResult prints the version record a remote command got back:
// its JSON with --json, else the line format (with %s for the version's
// reference, name and state, in that order).
func printVersionResult(out io.Writer, v *client.Version, asJSON bool, format string) {
	if asJSON {
		fmt.Fprintf(out, "%s\n", strings.TrimSpace(string(v.Raw)))
		return
	}
	fmt.Fprintf(out, format, v.Ref(), v.Name, v.State)
}
