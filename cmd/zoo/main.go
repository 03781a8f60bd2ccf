// Command zoo is the bioimage model zoo toolkit and server: validate, test,
// run and publish bioimage.io models.
//
// Exit codes: 0 success, 1 the checked thing failed (invalid description,
// test failure), 2 usage errors, 3 other errors.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// failed makes a command exit with code 1 without printing more.
var failed = &exitError{code: 1}

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "zoo",
		Short: "zoo: a repository and runtime for pre-trained bioimage AI models (bioimage.io format)",
		Long: `zoo validates, tests, runs and publishes bioimage.io models.

Contributors: zoo validate, zoo update-format, zoo update-hashes, zoo test, zoo predict,
zoo package; with a server: zoo upload, zoo show, zoo search, zoo download (reviewers: zoo review).
Operators: zoo serve, zoo worker, zoo migrate, zoo admin token, zoo jobs, zoo gc.
Editors and tools: zoo schema prints a JSON Schema of the model format.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: 2, err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(newValidateCmd(), newUpdateFormatCmd(), newUpdateHashesCmd(), newSchemaCmd(), newServeCmd(), newTestCmd(), newPredictCmd(), newPackageCmd(),
		newWorkerCmd(), newAdminCmd(), newUploadCmd(), newWithdrawCmd(), newShowCmd(), newReviewCmd(), newDownloadCmd(), newGCCmd(), newScoreCmd())
	root.AddCommand(newSearchCmd())
	root.AddCommand(newExportCmd())
	root.AddCommand(newChallengeCmd())
	root.AddCommand(newConvertCmd(), newFinetuneCmd(), newSandboxTestCmd(), newModelHostCmd())
	root.AddCommand(newMCPCmd())
	root.AddCommand(newJobsCmd(), newMigrateCmd())
	root.AddCommand(newTokensCmd()) // tokens.go
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.err != nil {
		fmt.Fprintln(os.Stderr, "zoo:", err)
	}
	return exitCode(err)
}

// exitCode maps a command's error to the process exit code.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) {
		return 2
	}
	return 3
}

// isUsage recognises cobra's own usage errors (unknown command, args).
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "accepts ", "requires at least", "invalid argument"} {
		if len(msg) >= len(p) && contains(msg, p) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
