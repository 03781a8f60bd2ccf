package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/spec"
)

// serve is, for now, a read-only preview: it lists the example model
// packages with their validation reports. The repository service (upload,
// review, persistent ids, search) replaces it; see docs/architecture.md.

type exampleModel struct {
	Dir     string         `json:"-"`
	Name    string         `json:"name"`
	Status  string         `json:"status"`
	Format  string         `json:"format_version"`
	Inputs  []string       `json:"inputs"`
	Outputs []string       `json:"outputs"`
	Weights []string       `json:"weights"`
	Desc    string         `json:"description"`
	Errors  []spec.Problem `json:"errors"`
}

func loadExamples(dir string) []exampleModel {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []exampleModel
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		m, _, res, err := spec.Load(p, spec.Options{Files: true})
		em := exampleModel{Dir: p, Name: e.Name(), Errors: []spec.Problem{}}
		if res != nil {
			em.Status, em.Format, em.Errors = res.Report.Status, res.Report.FormatVersion, append(em.Errors, res.Report.Errors...)
		}
		if err == nil {
			em.Name, em.Desc, em.Weights = m.Name, m.Description, m.Weights.Formats()
			for _, t := range m.Inputs {
				em.Inputs = append(em.Inputs, t.ID)
			}
			for _, t := range m.Outputs {
				em.Outputs = append(em.Outputs, t.ID)
			}
		}
		out = append(out, em)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var previewPage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>zoo — bioimage model zoo</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
.card{border:1px solid #ccc;border-radius:.5rem;padding:1rem;margin:1rem 0}.ok{color:#116329}.bad{color:#a40e26}code{background:#f3f3f3;padding:0 .2rem}</style></head>
<body><h1>zoo</h1><p>Pre-trained AI models for bioimage analysis, in the bioimage.io format.
This preview lists the example models from <code>{{.Dir}}</code> with their validation results.</p>
{{range .Models}}<div class="card"><h2>{{.Name}}</h2><p>{{.Desc}}</p>
<p class="{{if eq .Status "valid-format"}}ok{{else}}bad{{end}}">Validation: {{.Status}} (format {{.Format}})</p>
<p>Inputs: {{range .Inputs}}<code>{{.}}</code> {{end}} → outputs: {{range .Outputs}}<code>{{.}}</code> {{end}} · weights: {{range .Weights}}<code>{{.}}</code> {{end}}</p>
{{range .Errors}}<p class="bad">line {{.Line}}: {{.Loc}}: {{.Msg}}</p>{{end}}</div>
{{else}}<p>No example models found in <code>{{.Dir}}</code>.</p>{{end}}
<p>Check your own description: <code>zoo validate path/to/rdf.yaml</code>. JSON: <a href="/api/v1/models">/api/v1/models</a>.</p>
</body></html>`))

func newServeCmd() *cobra.Command {
	var addr, examples string
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--examples DIR]",
		Short: "Serve the model zoo web pages and API (preview: lists the example models)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			models := loadExamples(examples)
			mux := http.NewServeMux()
			mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				previewPage.Execute(w, map[string]any{"Dir": examples, "Models": models})
			})
			mux.HandleFunc("GET /api/v1/models", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"models": models})
			})
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
			srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
			}()
			slog.Info("zoo serving", "url", "http://"+addr+"/", "examples", examples, "models", len(models))
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&examples, "examples", filepath.Join("..", "shared", "fixtures", "packages"), "folder of example model packages to list")
	return cmd
}
