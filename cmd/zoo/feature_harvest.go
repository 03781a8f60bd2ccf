package main

// Harvesting and tool endpoints (packages oai, collection, hub):
//
//   - /oai: OAI-PMH 2.0 (oai_dc, oai_datacite with the DOIs the fair
//     feature recorded);
//   - /collection.json, /all_versions.json, /id_map.json and /index.json:
//     bioimage.io's collection files (docs/bioimageio-tools.md);
//   - /hf/…: Hugging Face Hub compatible reads (HF_ENDPOINT=BASE/hf), the
//     list and model info also at /api/models.
//
// Configuration (environment, all optional): ZOO_PUBLIC_URL, the public
// base URL used in identifiers and links (default: each request's host);
// ZOO_ADMIN_EMAIL, comma-separated adminEmail of OAI-PMH Identify, the
// contact harvesters write to (unset: oai.NoAdminEmail, and start-up says
// to set it); ZOO_OAI_KEY, the key signing resumption tokens, the same on
// every replica (default: derived from the host, see oai.Options.Key).

import (
	"context"
	"net/http"
	"os"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/collection"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/hub"
	"github.com/zoo-bioimage/zoo/oai"
	"github.com/zoo-bioimage/zoo/web"
)

func init() {
	register(feature{
		name: "harvest",
		routes: func(env *serverEnv) ([]web.Route, error) {
			base := strings.TrimRight(os.Getenv(doi.EnvPublicURL), "/")
			oopts := oai.Options{Base: base, Key: []byte(os.Getenv("ZOO_OAI_KEY"))}
			for _, e := range strings.Split(os.Getenv("ZOO_ADMIN_EMAIL"), ",") {
				if e = strings.TrimSpace(e); e != "" {
					oopts.AdminEmails = append(oopts.AdminEmails, e)
				}
			}
			if len(oopts.AdminEmails) == 0 && env.serve {
				env.log.Warn("ZOO_ADMIN_EMAIL is not set: OAI-PMH harvesters get no contact for this instance (adminEmail " + oai.NoAdminEmail + "); set ZOO_ADMIN_EMAIL=you@your.org (comma-separated for several)")
			}
			if s, ok := env.st.cat.(doi.Store); ok {
				oopts.DOI = func(ctx context.Context, v *zoo.Version) string {
					d, _ := s.VersionDOI(ctx, v.ModelID, v.Number)
					return d
				}
			}
			o := oai.New(oai.RepoSource(env.svc), oopts)
			c := collection.New(collection.RepoSource(env.svc), collection.Options{Base: base, DOI: oopts.DOI})
			routes := []web.Route{
				{Pattern: "GET /oai", Handler: o},
				{Pattern: "POST /oai", Handler: o},
			}
			routes = append(routes, c.Routes()...)
			return append(routes, hubFor(env, base).Routes()...), nil
		},
		fallback: func(env *serverEnv) func(http.ResponseWriter, *http.Request) bool {
			return hubFor(env, strings.TrimRight(os.Getenv(doi.EnvPublicURL), "/")).Root
		},
	})
}

// hubFor makes the Hub-compatible handler of a server.
func hubFor(env *serverEnv, base string) *hub.Handler {
	return hub.New(env.svc, hub.Options{Base: base})
}
