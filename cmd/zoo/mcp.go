package main

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/mcpserver"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/web"
)

func newMCPCmd() *cobra.Command {
	var sf storageFlags
	var server, token, out string
	var workers int
	cmd := &cobra.Command{
		Use:   "mcp (--server URL | --data DIR | --db URL --blobs URL) [--token T] [--out DIR]",
		Short: "Serve zoo to an AI assistant over the Model Context Protocol (stdio)",
		Long: `mcp runs a Model Context Protocol server on standard input and output, for a
local assistant (desktop assistants, IDE agents, lab automation) to find,
explain and run models and to publish them. Register it with the client as
a command, e.g. {"command": "zoo", "args": ["mcp", "--server", "https://zoo.example.org"]}.

With --server URL it talks to that zoo serve's /mcp endpoint, as the user of
--token (default $ZOO_TOKEN; none: anonymous, published models only), and
does here what needs this computer's files: run_model with a path sends the
image and writes the result beside it (or in --out / output_dir);
validate_description with a path validates here; upload_model with a path
builds the package here and uploads it.

With --data DIR (or --db and --blobs) it opens that repository itself, as
zoo serve would, and runs models in this process as zoo predict does. The
token, if given, must be one of that repository's. --workers N (default 1)
runs that many of the repository's jobs here (the tests of uploads,
challenge evaluations); 0 leaves them to a zoo serve or zoo worker on the
same storage.

Tools: ` + strings.Join(mcpserver.Tools, ", ") + `.
Resources: zoo://models/ID/N/PATH (files of a version), zoo://docs/tools.
Prompts: segment-nuclei, choose-model.

Logs go to standard error; standard output carries the protocol only.
It stops when the client closes standard input, or on SIGINT/SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			local := cmd.Flags().Changed("data") || cmd.Flags().Changed("db")
			if server == "" && !local {
				return usageErr("zoo mcp needs --server URL (a zoo serve) or --data DIR (a local repository)\nRun 'zoo mcp --help' for usage.")
			}
			if server != "" && local {
				return usageErr("give --server or --data/--db, not both")
			}
			if token == "" {
				token = os.Getenv("ZOO_TOKEN")
			}
			token = strings.TrimSpace(token)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := newLogger(cmd)
			transport := func(maxLine int64) *mcp.IOTransport {
				return &mcp.IOTransport{Reader: io.NopCloser(cmd.InOrStdin()), Writer: nopWriteCloser{cmd.OutOrStdout()}, MaxLineLength: int(maxLine)}
			}

			if server != "" {
				p, err := mcpserver.NewProxy(ctx, mcpserver.ProxyConfig{Server: server, Token: token, OutDir: out, Logger: log})
				if err != nil {
					return err
				}
				defer p.Close()
				// The remote's own limits apply; a line may hold an image
				// read here, in base64.
				return quietEnd(p.Server().Run(ctx, transport(mcpserver.DefaultMaxImageBytes*4/3+1<<20)))
			}

			st, err := openStorage(ctx, sf, true)
			if err != nil {
				return err
			}
			defer st.Close()
			var user *zoo.User
			if token != "" {
				if user, err = st.cat.UserByToken(ctx, web.HashToken(token)); err != nil {
					if zoo.KindOf(err) == zoo.NotFound {
						return usageErr("the token is not one of this repository's (or it was revoked); make one with zoo admin token")
					}
					return err
				}
			}
			if workers < 0 {
				return usageErr("--workers %d: give 0 (jobs run elsewhere) or more", workers)
			}
			var env *serverEnv
			if workers > 0 {
				var q *queue.Queue
				if q, env, err = startWorkers(ctx, st, workers, log, false, "", workOptions{}); err != nil {
					return err
				}
				defer stopWorkers(q)
			} else if _, env, err = serveOnly(ctx, st, log, ""); err != nil {
				return err
			}
			cfg := mcpserver.Config{Repo: env.svc, Files: true, OutDir: out, Logger: log}
			if err := mcpLimits(&cfg); err != nil {
				return err
			}
			if idx, err := searchFor(env); err == nil {
				cfg.Search = idx
			}
			if cache, err := modelCacheFor(env); err == nil {
				cfg.Runner = &mcpserver.DirectRunner{Cache: cache}
			}
			if cs, err := challengeService(env); err == nil {
				cfg.Challenges = cs
			}
			ms := mcpserver.New(cfg)
			return quietEnd(ms.Server(user).Run(ctx, transport(ms.MaxMessageBytes())))
		},
	}
	sf.register(cmd, true)
	cmd.Flags().StringVar(&server, "server", "", "a zoo server's URL: talk to its /mcp endpoint")
	cmd.Flags().StringVar(&token, "token", "", "API token the tools act with (default $ZOO_TOKEN; none: anonymous)")
	cmd.Flags().IntVar(&workers, "workers", 1, "with --data/--db: jobs run at once in this process (0: a zoo serve or zoo worker runs them)")
	cmd.Flags().StringVar(&out, "out", "", "where run_model writes results (default: zoo-results beside each image)")
	return cmd
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// quietEnd treats the client closing the connection, or a signal, as a
// normal end.
func quietEnd(err error) error {
	if err == nil || errors.Is(err, mcp.ErrConnectionClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	if strings.Contains(err.Error(), "context canceled") {
		return nil
	}
	return err
}
