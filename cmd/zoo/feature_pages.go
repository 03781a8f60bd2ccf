package main

import (
	"context"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/finetune"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/pages"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// The web pages for people (package pages): home, search, model pages,
// upload, my submissions, review, login form. They use the search
// feature's index, the session feature's CSRF tokens and the FAIR
// feature's options (public base URL, DOIs) for JSON-LD, signposting and
// citations.
func init() {
	register(feature{
		name: "pages",
		routes: func(env *serverEnv) ([]web.Route, error) {
			fo := fairOptions(env)
			record := func(ctx context.Context, v *zoo.Version, desc *spec.Model, base string) fair.Record {
				r := fair.Record{Version: v, Desc: desc, Base: base, Publisher: fo.Publisher}
				if fo.DOIs != nil {
					if d, err := fo.DOIs.VersionDOI(ctx, v.ModelID, v.Number); err == nil {
						r.DOI = d
					}
				}
				return r
			}
			opts := pages.Options{
				Service: env.svc,
				Logger:  env.log,
				Base:    fo.Base,
				JSONLD: func(ctx context.Context, v *zoo.Version, desc *spec.Model, base string) ([]byte, error) {
					return fair.JSONLD(record(ctx, v, desc, base))
				},
				Signposting: func(ctx context.Context, v *zoo.Version, desc *spec.Model, base string) string {
					return fair.Signposting(record(ctx, v, desc, base))
				},
			}
			if fo.DOIs != nil {
				opts.DOI = func(ctx context.Context, v *zoo.Version) string {
					d, _ := fo.DOIs.VersionDOI(ctx, v.ModelID, v.Number)
					return d
				}
			}
			// The search feature's index (feature_search.go); without one
			// the pages scan the published models.
			if idx, err := searchFor(env); err == nil {
				opts.Search = idx
			} else {
				env.log.Warn("pages: no search index; the pages scan the published models", "err", err)
			}
			// The CSRF tokens of the session feature's manager.
			if m := sessionManager(env); m != nil {
				opts.CSRF = m
			}
			// "Try it" runs through the jobs feature (feature_jobs.go):
			// offered only on models its jobs can run, with its image limit.
			opts.CanRun = infer.Runnable
			// … in the visitor's browser where it can (feature_browser.go).
			opts.BrowserRun = browserOffer
			if mib, err := envInt("ZOO_JOBS_MAX_MIB", 512); err == nil && mib > 0 {
				opts.MaxJobUpload = int64(mib) << 20
			}
			// Fine-tuning (feature_finetune.go): fine-tunable models are
			// marked and offer the form; a model's page lists the published
			// models fine-tuned from it, found by the search facet "parent".
			if ft, err := finetuneFor(env); err == nil && ft != nil {
				opts.Finetune = func(m *spec.Model) pages.FinetuneOffer {
					return pages.FinetuneOffer{Tasks: finetune.Tasks(m), Retention: ft.Retention(), MaxUpload: ft.MaxUploadBytes()}
				}
			}
			if idx, ok := opts.Search.(*search.Engine); ok && idx != nil {
				opts.Children = func(ctx context.Context, id string) ([]pages.Child, error) {
					res, err := idx.Search(ctx, search.Query{Filters: map[string][]string{search.FacetParent: {id}}, Sort: search.SortDate, Limit: 50})
					if err != nil {
						return nil, err
					}
					out := make([]pages.Child, 0, len(res.Hits))
					for _, h := range res.Hits {
						out = append(out, pages.Child{ID: h.ID, Version: h.Version, Name: h.Name})
					}
					return out, nil
				}
			}
			p, err := pages.New(opts)
			if err != nil {
				return nil, err
			}
			return p.Routes(), nil
		},
	})
}
