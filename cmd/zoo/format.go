package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/spec"
)

func newUpdateFormatCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "update-format IN [-o OUT]",
		Short: "Write a description in the latest format (model 0.5, others 0.3)",
		Long: `update-format converts a description (yaml, package folder or zip) to the
latest format of its type — model 0.4 → 0.5.7, dataset/application/notebook
0.2 → 0.3.0 — and writes it to OUT (default: standard output). The result is
validated; problems are printed to standard error and make the exit code 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, res, err := spec.UpdateFormat(args[0], spec.Options{})
			if err != nil {
				if res != nil {
					writeReportText(os.Stderr, res.Report)
				}
				return &exitError{code: 1, err: err}
			}
			if err := writeOut(cmd, out, data); err != nil {
				return err
			}
			if !res.Report.OK() {
				writeReportText(os.Stderr, res.Report)
				return failed
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func writeOut(cmd *cobra.Command, out string, data []byte) error {
	if out == "" || out == "-" {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	return os.WriteFile(out, data, 0o644)
}

func newUpdateHashesCmd() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update-hashes PATH [-o OUT]",
		Short: "Rewrite the sha256 fields of a description from its files",
		Long: `update-hashes recomputes the sha256 of every local file a description
references and writes the values into the description, in place (or to OUT),
keeping its comments and layout. Missing sha256 fields are added.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := spec.OpenSource(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			data, updates, res, err := spec.UpdateHashes(args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			target := out
			if target == "" {
				target = describedFile(src, args[0])
			}
			if len(updates) > 0 || out != "" {
				if err := writeOut(cmd, target, data); err != nil {
					return err
				}
			}
			if asJSON {
				b, _ := json.Marshal(map[string]any{"file": target, "updated": updates})
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			} else {
				for _, u := range updates {
					old := u.Old
					if old == "" {
						old = "(missing)"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s %s → %s\n", u.Loc, u.File, short(old), short(u.New))
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%d sha256 value(s) updated in %s\n", len(updates), target)
			}
			if res != nil && !res.Report.OK() {
				writeReportText(cmd.ErrOrStderr(), res.Report)
				return failed
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write here instead of rewriting the description in place")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the updates as JSON")
	return cmd
}

// describedFile returns the yaml file of a source given as a file or folder.
func describedFile(src *spec.Source, arg string) string {
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		entries, _ := os.ReadDir(arg)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return filepath.Join(arg, spec.FindDescription(names))
	}
	return arg
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print a JSON Schema of the latest model format (for editors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := spec.ModelSchema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return err
		},
	}
}
