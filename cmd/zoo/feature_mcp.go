package main

// The Model Context Protocol endpoint (package mcpserver): POST, GET and
// DELETE /mcp in serve, streamable HTTP behind the API's authentication
// (anonymous: published models only; a bearer token acts as its user).
// Its tools use this process's search index, inference jobs (run by the
// instance's workers) and challenges.
//
// Settings, from the environment:
//
//	ZOO_MCP_MAX_IMAGE_MIB  largest image sent in a run_model call, in MiB (default 16)
//	ZOO_MCP_MAX_PACKAGE_MIB largest package zip sent in an upload_model call, in MiB (default 32)
//	ZOO_MCP_MAX_RUNS       run_model calls at once per user or network address (default 2)
//	ZOO_MCP_RUN_TIMEOUT    how long a run_model call waits for its job (default 10m)

import (
	"os"
	"sync"

	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/mcpserver"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "mcp",
		routes: func(env *serverEnv) ([]web.Route, error) {
			s, err := mcpFor(env)
			if err != nil {
				return nil, err
			}
			h := s.Handler()
			return []web.Route{
				{Pattern: "POST /mcp", Auth: true, Handler: h},
				{Pattern: "GET /mcp", Auth: true, Handler: h},
				{Pattern: "DELETE /mcp", Auth: true, Handler: h},
			}, nil
		},
	})
}

var mcpServers sync.Map // *serverEnv → *mcpserver.Server

// mcpFor returns the MCP server of a process (after env.svc exists), with
// whichever of search, jobs and challenges its storage offers.
func mcpFor(env *serverEnv) (*mcpserver.Server, error) {
	if s, ok := mcpServers.Load(env); ok {
		return s.(*mcpserver.Server), nil
	}
	cfg := mcpserver.Config{Repo: env.svc, PublicURL: os.Getenv(doi.EnvPublicURL), Logger: env.log}
	if err := mcpLimits(&cfg); err != nil {
		return nil, err
	}
	if idx, err := searchFor(env); err == nil {
		cfg.Search = idx
	}
	if js, err := inferFor(env); err == nil {
		cfg.Runner = &mcpserver.JobsRunner{Jobs: js, Blobs: env.svc.Blobs()}
	}
	if cs, err := challengeService(env); err == nil {
		cfg.Challenges = cs
	}
	s, _ := mcpServers.LoadOrStore(env, mcpserver.New(cfg))
	return s.(*mcpserver.Server), nil
}

// mcpLimits reads the ZOO_MCP_* settings.
func mcpLimits(cfg *mcpserver.Config) error {
	mib, err := envInt("ZOO_MCP_MAX_IMAGE_MIB", mcpserver.DefaultMaxImageBytes>>20)
	if err != nil {
		return err
	}
	cfg.MaxImageBytes = int64(mib) << 20
	if mib, err = envInt("ZOO_MCP_MAX_PACKAGE_MIB", mcpserver.DefaultMaxPackageBytes>>20); err != nil {
		return err
	}
	cfg.MaxPackageBytes = int64(mib) << 20
	if cfg.MaxRunsPerClient, err = envInt("ZOO_MCP_MAX_RUNS", mcpserver.DefaultMaxRunsPerClient); err != nil {
		return err
	}
	cfg.RunTimeout, err = envDuration("ZOO_MCP_RUN_TIMEOUT", mcpserver.DefaultRunTimeout)
	return err
}
