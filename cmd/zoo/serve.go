package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

func newServeCmd() *cobra.Command {
	var sf storageFlags
	var addr, proxies string
	var seeds []string
	var workers int
	cmd := &cobra.Command{
		Use:   "serve [--data DIR] [--addr HOST:PORT] [--db URL] [--blobs URL] [--workers N] [--seed DIR]...",
		Short: "Run the model repository: the JSON API, downloads and the test jobs",
		Long: `serve runs a zoo repository: the JSON API under /api/v1 (described at
/api/openapi.json), file and package downloads, a home page at / listing
the published models, and — unless --workers 0 — workers that run the
background jobs this machine can run (tests, inference, conversions,
challenge scoring, DOI mints; see zoo worker --help and docs/jobs.md).

With no flags it is a whole instance for one machine under ./zoo-data.
For more, run replicas with --db postgres://… --blobs s3://… --workers 0
behind a load balancer, and zoo worker processes on the same storage.

` + storageHelp + `

Bootstrap an empty instance with tokens from zoo admin token. --seed DIR
(repeatable) publishes every package folder in each DIR when the instance
has no model yet: uploaded by the user "zoo-examples" and, once its test has
run (and has not failed), accepted by the reviewer "zoo-curator". A package
with only PyTorch state-dict weights is converted first where this machine
can convert (python3-torch and bubblewrap); elsewhere it is published
waiting for a converter.

Uploads with only PyTorch state-dict weights (and the architecture as a .py
file in the package) are converted to TorchScript and ONNX by a worker that
has Debian's PyTorch (python3-torch; ` + convertPythonEnv + ` names another
interpreter) and bubblewrap, in the sandbox; workers without them leave the
conversions to others, and such versions show "waiting for a converter".

It prints "listening on http://HOST:PORT/" on standard error when it
accepts requests, and stops on SIGINT or SIGTERM: it stops accepting,
finishes the requests in flight (up to 30 s) and the running jobs (up to
30 s more; interrupted jobs run again later).

` + doi.EnvHelp + ` The metadata and citation routes build
their URLs on ` + doi.EnvPublicURL + ` when set, else on the request's scheme
(TLS or X-Forwarded-Proto) and Host.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 0 {
				return usageErr("--workers %d: give 0 (serve only) or more", workers)
			}
			trusted, err := web.ParseTrustedProxies(proxies)
			if err != nil {
				return usageErr("--trusted-proxies: %v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stderr := cmd.ErrOrStderr()
			log := newLogger(cmd)

			st, err := openStorage(ctx, sf, true)
			if err != nil {
				return err
			}
			defer st.Close()
			seed := ""
			if len(seeds) > 0 {
				seed = seeds[0]
				if err := seedExamples(ctx, st, seeds, stderr); err != nil {
					return err
				}
			}

			var q *queue.Queue
			var env *serverEnv
			if workers > 0 {
				if q, env, err = startWorkers(ctx, st, workers, log, true, seed, workOptions{}); err != nil {
					return err
				}
				defer stopWorkers(q)
			} else {
				if q, env, err = serveOnly(ctx, st, log, seed); err != nil {
					return err
				}
			}
			svc := env.svc
			wopts, err := webOptions(env)
			if err != nil {
				return err
			}
			wopts.TrustedProxies = trusted
			if wopts.Redirect, err = downloadRedirect(st); err != nil { // redirect.go
				return err
			}

			conns, body, err := serverLimits() // feature_metrics.go
			if err != nil {
				return err
			}
			wopts.Body = body
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return zoo.E("serve", zoo.Unavailable, err, "cannot listen on %s; is another server running there? (choose another with --addr)", addr)
			}
			ln = web.LimitListener(ln, conns, log)
			srv := &http.Server{
				Handler:           web.New(svc, wopts),
				ReadHeaderTimeout: 10 * time.Second,
				IdleTimeout:       time.Minute,
				MaxHeaderBytes:    64 << 10,
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			jobs := "no workers (run zoo worker)"
			if workers > 0 {
				jobs = fmt.Sprintf("jobs: %s; %s", env.plan.describe(), runtimeNote())
			}
			log.Info("zoo serve: "+joinDesc(st.desc)+", "+jobs, "storage", joinDesc(st.desc), "jobs", jobs)
			log.Info(fmt.Sprintf("zoo serve: listening on http://%s/", ln.Addr()), "addr", ln.Addr().String())

			select {
			case err := <-served:
				return zoo.E("serve", zoo.Internal, err, "the server stopped")
			case <-ctx.Done():
			}
			log.Info("zoo serve: shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				srv.Close()
			}
			if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	sf.register(cmd, true)
	sf.registerNoMigrate(cmd)
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	cmd.Flags().StringVar(&proxies, "trusted-proxies", "", "reverse proxies (IPs, CIDR prefixes, comma-separated) whose X-Forwarded-For names the client for per-client limits; default none: the connection's peer is the client")
	cmd.Flags().IntVar(&workers, "workers", 2, "jobs of each kind run at once in this process (0: serve only; run zoo worker elsewhere — without any worker, uploads are never tested and try-it jobs never run)")
	cmd.Flags().StringArrayVar(&seeds, "seed", nil, "publish the package folders in this folder on an empty instance (repeatable)")
	return cmd
}

// Users that own the seeded example models.
const (
	seedContributor = "zoo-examples"
	seedReviewer    = "zoo-curator"
)

// seedExamples publishes every package folder in each of dirs when the
// catalog has no model yet. A missing folder or a package that cannot be
// published is reported and skipped: seeding never stops the server.
func seedExamples(ctx context.Context, st *storage, dirs []string, w io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(w, "zoo serve: "+format+"\n", args...) }
	models, err := st.cat.ListModels(ctx, false)
	if err != nil {
		return err
	}
	if len(models) > 0 {
		say("--seed: the instance already has %d model(s); not seeding", len(models))
		return nil
	}
	contributor, err := ensureUser(ctx, st.cat, seedContributor, zoo.RoleContributor)
	if err != nil {
		return err
	}
	curator, err := ensureUser(ctx, st.cat, seedReviewer, zoo.RoleReviewer)
	if err != nil {
		return err
	}
	// Without a queue: each conversion and test runs here, before its
	// review.
	tester, err := modelTester()
	if err != nil {
		return err
	}
	cfg := repo.Config{TempDir: st.tempDir, Tester: tester, ZooVersion: zooVersion()}
	convertErr := canConvert()
	if convertErr == nil {
		cfg.Converter = serverConverter(tester)
	}
	svc := repo.New(st.cat, st.blobs, nil, cfg)
	for _, dir := range dirs {
		if err := seedFolder(ctx, svc, contributor, curator, dir, convertErr, say); err != nil {
			return err
		}
	}
	return nil
}

// seedFolder publishes every package folder in dir (see seedExamples).
func seedFolder(ctx context.Context, svc *repo.Service, contributor, curator *zoo.User, dir string, convertErr error, say func(string, ...any)) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		say("--seed %s: %v; starting without example models from it", dir, errors.Unwrap(err))
		return nil
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, e.Name())
		v, err := seedOne(ctx, svc, contributor, curator, p)
		if err != nil {
			say("--seed: %s: %s", p, zoo.MessageOf(err))
			continue
		}
		switch {
		case v.State == zoo.StatePublished && repo.Waiting(v):
			n++
			say("--seed: published %s/%d (%s) waiting for a converter: this server %s", v.ModelID, v.Number, v.Name, converterNote(convertErr))
		case v.State == zoo.StatePublished && v.Converted != nil:
			n++
			say("--seed: published %s/%d (%s; conversion %s; test %s)", v.ModelID, v.Number, v.Name, v.Converted.Status, v.TestStatus)
		case v.State == zoo.StatePublished:
			n++
			say("--seed: published %s/%d (%s; test %s)", v.ModelID, v.Number, v.Name, v.TestStatus)
		default:
			say("--seed: %s/%d (%s) stays %s: its test %s", v.ModelID, v.Number, v.Name, v.State, v.TestStatus)
		}
	}
	say("--seed: %d example model(s) published from %s", n, dir)
	return nil
}

// seedOne uploads, converts (a state-dict-only package, where this machine
// can), tests and (unless its test failed) accepts one package.
func seedOne(ctx context.Context, svc *repo.Service, contributor, curator *zoo.User, path string) (*zoo.Version, error) {
	pkg, _, err := bundle.Build(path, bundle.BuildOptions{})
	if err != nil {
		return nil, err
	}
	defer pkg.Close()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, err := bundle.Write(pw, pkg)
		pw.CloseWithError(err)
	}()
	v, err := svc.Upload(ctx, contributor, pr, repo.UploadOptions{})
	pr.CloseWithError(errors.New("upload ended"))
	<-done
	if err != nil {
		return nil, err
	}
	if repo.Waiting(v) {
		// Converted here where this machine can; else published waiting
		// for a converter (its test runs after the conversion).
		if err := svc.RunConvert(ctx, repo.ConvertArgs{ID: v.ModelID, Version: v.Number}); err != nil && zoo.KindOf(err) != zoo.Unavailable {
			return nil, err
		}
	}
	if err := svc.RunTest(ctx, repo.TestArgs{ID: v.ModelID, Version: v.Number}); err != nil {
		return nil, err
	}
	if v, err = svc.Get(ctx, curator, v.ModelID, v.Number); err != nil {
		return nil, err
	}
	if v.TestStatus == zoo.TestFailed || v.TestStatus == zoo.TestPending && !repo.Waiting(v) {
		return v, nil
	}
	return svc.Review(ctx, curator, v.ModelID, v.Number, repo.Accept, "example model, published by zoo serve --seed")
}

// ensureUser returns the user called name, creating it with role if
// missing.
func ensureUser(ctx context.Context, cat zoo.Catalog, name string, role zoo.Role) (*zoo.User, error) {
	u, err := cat.UserByName(ctx, name)
	if zoo.KindOf(err) == zoo.NotFound {
		u, err = cat.CreateUser(ctx, name, role)
		if zoo.KindOf(err) == zoo.Conflict { // created meanwhile by another process
			u, err = cat.UserByName(ctx, name)
		}
	}
	return u, err
}
