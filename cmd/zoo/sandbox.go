package main

// Tests of uploaded models run in sandboxed child processes (package
// testview's Sandboxed, package sandbox): serve, the seed path and worker
// start this same binary as `zoo sandbox-test PACKAGE OUT` inside the
// sandbox, so a model that allocates without bound, spins or crashes ends
// its own test, never the process that serves everyone else.

import (
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/testview"
)

// newSandboxTestCmd is the hidden child command; it is not for people.
func newSandboxTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:    testview.ChildCommand + " PACKAGE OUT",
		Short:  "Run one model test inside the sandbox (started by zoo serve and zoo worker)",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := testview.RunChild(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}

// modelTester returns the repo.Tester that runs each test in a sandboxed
// child process of this binary, bounded by ZOO_TEST_MEMORY_MB (address
// space, default 4096) and ZOO_TEST_TIMEOUT (wall clock, default 10m).
func modelTester() (repo.Tester, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	s := testview.Sandboxed{Exe: exe}
	if s.Limits.Wall, err = envDuration("ZOO_TEST_TIMEOUT", 10*time.Minute); err != nil {
		return nil, err
	}
	if v := os.Getenv("ZOO_TEST_MEMORY_MB"); v != "" {
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil || mb < 256 {
			return nil, usageErr("ZOO_TEST_MEMORY_MB=%q: give the memory a model test may use in MiB, at least 256 (default 4096)", v)
		}
		s.Limits.Memory = mb << 20
	}
	// A test binary of this package runs as zoo only with this variable
	// (crash_test.go's TestMain).
	if v := os.Getenv(asZooEnv); v != "" {
		s.Env = append(s.Env, asZooEnv+"="+v)
	}
	return s.Test, nil
}

// asZooEnv makes a `go test` binary of this package act as zoo (see
// TestMain in crash_test.go); a real zoo binary ignores it.
const asZooEnv = "ZOO_TEST_RUN_AS_ZOO"
