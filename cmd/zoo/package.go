package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/spec"
)

func newPackageCmd() *cobra.Command {
	var output string
	var fetch, asJSON bool
	cmd := &cobra.Command{
		Use:   "package PATH -o PKG.zip [--fetch] [--json]",
		Short: "Make a package zip of a description and the files it references",
		Long: `package validates a description (a yaml, a package folder or a package zip),
with its files checked, and writes a package zip: the description as rdf.yaml
and every file it references in the top folder under its bare name (a name
taken by other content gets _2, _3, …). The yaml text is edited where it names
a file, so comments survive, and missing sha256 values are filled in.

The zip is deterministic: the same files give the same bytes, whatever their
modification times. Remote files (http URLs) stay URLs unless --fetch
downloads them into the package.

Output: a summary (files, total size, the zip's sha256); --json prints
  {"output", "sha256", "size", "files": [{"path", "sha256", "size"}]}.

Exit code: 0 when the zip was written; 1 when the description is invalid (its
report is printed as by zoo validate) or the input cannot be packaged (a broken
or unsafe zip, limits exceeded); 2 on usage errors; 3 on other errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return usageErr("-o PKG.zip is required: name the zip to write")
			}
			opts := bundle.BuildOptions{}
			if fetch {
				opts.Fetch = httpFetch
			}
			out := cmd.OutOrStdout()
			pkg, res, err := bundle.Build(args[0], opts)
			if err != nil {
				if res != nil && !res.Report.OK() {
					if asJSON {
						writeReportJSON(out, res.Report)
					} else {
						writeReportText(out, res.Report)
					}
					return failed
				}
				return packageErr(err)
			}
			defer pkg.Close()
			sum, size, err := writeZipFile(output, pkg)
			if err != nil {
				return packageErr(err)
			}
			files := pkg.Files()
			if asJSON {
				b, _ := json.Marshal(map[string]any{"output": output, "sha256": sum, "size": size, "files": files})
				fmt.Fprintf(out, "%s\n", b)
				return nil
			}
			var total int64
			for _, f := range files {
				total += f.Size
			}
			fmt.Fprintf(out, "✔ %s: %d files, %s, sha256 %s\n", output, len(files), humanBytes(total), sum)
			for _, f := range files {
				fmt.Fprintf(out, "  %10s  %s  %s\n", humanBytes(f.Size), f.SHA256[:12], f.Path)
			}
			if n := remoteRefs(res); n > 0 && !fetch {
				fmt.Fprintf(out, "  %d remote reference(s) stay URLs; --fetch packages them\n", n)
			}
			if n := len(res.Report.Warnings); n > 0 {
				fmt.Fprintf(out, "  the description has %d warning(s); run 'zoo validate %s' to see them\n", n, args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the zip to write (replaced if it exists)")
	cmd.Flags().BoolVar(&fetch, "fetch", false, "download remote files into the package")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result (or the validation report) as JSON")
	return cmd
}

// packageErr makes input problems (a broken or unsafe zip, limits, missing
// files) exit 1 like an invalid description; other failures exit 3.
func packageErr(err error) error {
	switch zoo.KindOf(err) {
	case zoo.Invalid, zoo.TooLarge, zoo.NotSupported, zoo.NotFound:
		// The message is for the contributor: without the internal
		// operation's name (it said "bundle.OpenZip: …").
		return &exitError{code: 1, err: errors.New(zoo.MessageOf(err))}
	}
	return err
}

// writeZipFile writes the package to a temporary file beside name and
// renames it into place, so that a failure never leaves a partial zip.
func writeZipFile(name string, pkg *bundle.Package) (string, int64, error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return "", 0, zoo.E("package", zoo.Invalid, err, "cannot write %s", name)
	}
	defer os.Remove(f.Name()) // after a successful rename this fails harmlessly
	sum, size, err := bundle.Write(f, pkg)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		if zoo.KindOf(err) == zoo.Internal {
			err = zoo.E("package", zoo.Internal, err, "cannot write %s", name)
		}
		return "", 0, err
	}
	return sum, size, nil
}

// remoteRefs counts the distinct URLs a description references.
func remoteRefs(res *spec.Result) int {
	seen := map[string]bool{}
	for _, r := range spec.References(res) {
		if strings.HasPrefix(r.Source, "http://") || strings.HasPrefix(r.Source, "https://") {
			seen[r.Source] = true
		}
	}
	return len(seen)
}

// humanBytes formats a size with SI units ("4.1 MB").
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n), ""
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= 1000
		unit = u
		if f < 1000 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", f, unit)
}
