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

	"github.com/zoo-bioimage/zoo/modelhost"
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
	if s.Limits.Memory, err = envMemoryMiB("ZOO_TEST_MEMORY_MB", "a model test"); err != nil {
		return nil, err
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

// newModelHostCmd is the hidden child command that serves one published
// model's weights to serve or worker (package modelhost).
func newModelHostCmd() *cobra.Command {
	return &cobra.Command{
		Use:    modelhost.ChildCommand + " DESCRIPTION FORMAT THREADS",
		Short:  "Serve one model's weights to zoo serve over stdin/stdout (started by zoo serve and zoo worker)",
		Hidden: true,
		Args:   cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := modelhost.Serve(cmd.Context(), args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}

// modelHost is how serve and worker run published models (/v2, inference
// jobs and try-it, challenge model submissions): each in a child process of
// this binary, bounded by ZOO_MODEL_MEMORY_MB (address space, default
// 4096) and ZOO_MODEL_RUN_TIMEOUT (one run, default 10m).
func modelHost() (modelhost.Config, error) {
	exe, err := os.Executable()
	if err != nil {
		return modelhost.Config{}, err
	}
	c := modelhost.Config{Exe: exe}
	if c.RunTimeout, err = envDuration("ZOO_MODEL_RUN_TIMEOUT", 10*time.Minute); err != nil {
		return c, err
	}
	if c.Memory, err = envMemoryMiB("ZOO_MODEL_MEMORY_MB", "one published model"); err != nil {
		return c, err
	}
	if v := os.Getenv(asZooEnv); v != "" {
		c.Env = append(c.Env, asZooEnv+"="+v)
	}
	return c, nil
}

// envMemoryMiB reads a memory limit in MiB from the environment variable
// name (at least 256) and returns it in bytes; unset is 0, the sandbox's
// default (4096 MiB). what names who the limit binds, for the message.
func envMemoryMiB(name, what string) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	mb, err := strconv.ParseInt(v, 10, 64)
	if err != nil || mb < 256 {
		return 0, usageErr("%s=%q: give the memory %s may use in MiB, at least 256 (default 4096)", name, v, what)
	}
	return mb << 20, nil
}
