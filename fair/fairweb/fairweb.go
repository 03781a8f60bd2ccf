// Package fairweb serves package fair's exports over HTTP:
//
//	GET /api/v1/models/{id}/versions/{n}/datacite.xml   DataCite kernel-4 XML (application/vnd.datacite.datacite+xml)
//	GET /api/v1/models/{id}/versions/{n}/datacite.json  DataCite REST API JSON (application/vnd.api+json)
//	GET /api/v1/models/{id}/versions/{n}/jsonld         schema.org JSON-LD (application/ld+json)
//	GET /api/v1/models/{id}/versions/{n}/citation.bib   BibTeX (application/x-bibtex)
//	GET /api/v1/models/{id}/versions/{n}/citation.cff   CITATION.cff (application/yaml)
//	GET /api/v1/models/{id}/versions/{n}/citation.ris   RIS (application/x-research-info-systems)
//	GET /api/v1/models/{id}/citation.{bib,cff,ris}      the same for the latest published version
//
// Every answer carries the version's signposting Link header
// (fair.Signposting). Visibility is repo.Service.Get's: a version the
// caller may not see is 404, as in the core API. Published and retired
// versions are cacheable for 5 minutes (their DOI may appear once minted);
// others are private, no-store.
//
// Base URL. The URLs inside the metadata (landing page, downloads, links)
// are absolute. They use Options.Base when set (cmd/zoo sets it from
// ZOO_PUBLIC_URL); otherwise they are derived from the request: the scheme
// is https when the connection is TLS or the first X-Forwarded-Proto value
// is "https" (set by a TLS-terminating proxy), else http; the host is the
// request's Host header when it is a plain host[:port] (anything else
// becomes "localhost"). Responses then Vary on X-Forwarded-Proto.
package fairweb

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// DOIs looks up a version's minted DOI (doi.Store implements it);
// NotFound means none.
type DOIs interface {
	VersionDOI(ctx context.Context, modelID string, n int) (string, error)
}

// Options configure the routes.
type Options struct {
	// Base is the public base URL ("https://zoo.example.org"); "" derives
	// it from each request (see the package comment).
	Base string
	// Publisher names the instance in the metadata ("" = the host).
	Publisher string
	// DOIs, if set, supplies minted DOIs (cite-as, identifiers).
	DOIs DOIs
}

// export is one metadata format.
type export struct {
	name, contentType, disposition, filename string
	render                                   func(fair.Record) ([]byte, error)
	summary, opID                            string
}

func text(f func(fair.Record) string) func(fair.Record) ([]byte, error) {
	return func(r fair.Record) ([]byte, error) { return []byte(f(r)), nil }
}

var exports = []export{
	{"datacite.xml", "application/vnd.datacite.datacite+xml; charset=utf-8", "inline", "datacite.xml", fair.DataCiteXML, "DataCite Metadata Schema kernel-4 XML", "getDataCiteXML"},
	{"datacite.json", "application/vnd.api+json", "inline", "datacite.json", fair.DataCiteJSON, "DataCite REST API JSON (JSON:API dois resource)", "getDataCiteJSON"},
	{"jsonld", "application/ld+json", "inline", "jsonld.json", fair.JSONLD, "schema.org JSON-LD", "getJSONLD"},
	{"citation.bib", "application/x-bibtex; charset=utf-8", "attachment", "bib", text(fair.BibTeX), "BibTeX citation", "getCitationBibTeX"},
	{"citation.cff", "application/yaml; charset=utf-8", "attachment", "CITATION.cff", text(fair.CFF), "Citation File Format 1.2.0", "getCitationCFF"},
	{"citation.ris", "application/x-research-info-systems; charset=utf-8", "attachment", "ris", text(fair.RIS), "RIS citation", "getCitationRIS"},
}

// Routes returns the metadata routes over svc.
func Routes(svc *repo.Service, opts Options) []web.Route {
	var out []web.Route
	for _, e := range exports {
		out = append(out, web.Route{
			Pattern: "GET /api/v1/models/{id}/versions/{n}/" + e.name,
			Auth:    true,
			Handler: handler(svc, opts, e, false),
			Doc:     doc(e, false),
		})
		if strings.HasPrefix(e.name, "citation.") {
			out = append(out, web.Route{
				Pattern: "GET /api/v1/models/{id}/" + e.name,
				Auth:    true,
				Handler: handler(svc, opts, e, true),
				Doc:     doc(e, true),
			})
		}
	}
	return out
}

// Record returns the fair.Record of version n (0 = latest published) of
// model id as the caller of r may see it, with the base URL and DOI as the
// routes use them (for other packages' pages, e.g. JSON-LD in the model
// page).
func Record(r *http.Request, svc *repo.Service, opts Options, id string, n int) (fair.Record, error) {
	ctx := r.Context()
	v, err := svc.Get(ctx, web.UserOf(r), id, n)
	if err != nil {
		return fair.Record{}, err
	}
	d, err := svc.Description(ctx, v)
	if err != nil {
		return fair.Record{}, err
	}
	rec := fair.Record{Version: v, Desc: d, Base: web.BaseURL(r, opts.Base), Publisher: opts.Publisher}
	if opts.DOIs != nil {
		doi, err := opts.DOIs.VersionDOI(ctx, v.ModelID, v.Number)
		switch {
		case err == nil:
			rec.DOI = doi
		case zoo.KindOf(err) != zoo.NotFound:
			return fair.Record{}, err
		}
	}
	return rec, nil
}

func handler(svc *repo.Service, opts Options, e export, latest bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		if !latest {
			var err error
			if n, err = versionNumber(r.PathValue("n")); err != nil {
				web.Fail(w, r, err)
				return
			}
		}
		rec, err := Record(r, svc, opts, r.PathValue("id"), n)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		body, err := e.render(rec)
		if err != nil {
			web.Fail(w, r, zoo.E("fairweb", zoo.Internal, err, ""))
			return
		}
		h := w.Header()
		h.Set("Content-Type", e.contentType)
		h.Set("Content-Disposition", e.disposition+`; filename="`+filename(rec, e)+`"`)
		h.Set("Link", fair.Signposting(rec))
		if opts.Base == "" {
			h.Add("Vary", "X-Forwarded-Proto")
		}
		if rec.Version.State == zoo.StatePublished || rec.Version.State == zoo.StateRetired {
			h.Set("Cache-Control", "public, max-age=300")
		} else {
			h.Set("Cache-Control", "private, no-store")
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	})
}

// filename is "ID-vN.EXT" (or CITATION.cff); ids are [a-z0-9-] but are
// filtered anyway, as the name goes into a header.
func filename(rec fair.Record, e export) string {
	if e.filename == "CITATION.cff" {
		return e.filename
	}
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, rec.Version.ModelID)
	return id + "-v" + strconv.Itoa(rec.Version.Number) + "." + e.filename
}

func versionNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strconv.Itoa(n) != s {
		return 0, zoo.E("fairweb", zoo.Invalid, nil, "version %.40q: the version must be a number ≥ 1", s)
	}
	return n, nil
}

func doc(e export, latest bool) json.RawMessage {
	params := []any{map[string]any{"$ref": "#/components/parameters/id"}}
	summary := e.summary + " of one version"
	opID := e.opID
	if latest {
		summary = e.summary + " of the latest published version"
		opID += "Latest"
	} else {
		params = append(params, map[string]any{"$ref": "#/components/parameters/n"})
	}
	ct, _, _ := strings.Cut(e.contentType, ";")
	body := map[string]any{"type": "string"} // XML, BibTeX, CFF, RIS: text
	if strings.HasSuffix(ct, "json") {
		body = map[string]any{"type": "object"} // DataCite JSON, JSON-LD
	}
	op := map[string]any{
		"tags":        []string{"metadata"},
		"operationId": opID,
		"summary":     summary,
		"description": "Absolute URLs inside use ZOO_PUBLIC_URL or, unset, the request's scheme (TLS or X-Forwarded-Proto) and Host. The Link header carries the signposting relations (cite-as, describedby, item, license, author, type).",
		"parameters":  params,
		"responses": map[string]any{
			"200": map[string]any{
				"description": e.summary,
				"headers": map[string]any{
					"Link":                map[string]any{"description": "signposting.org level 1 links", "schema": map[string]any{"type": "string"}},
					"Content-Disposition": map[string]any{"schema": map[string]any{"type": "string"}},
				},
				"content": map[string]any{ct: map[string]any{"schema": body}},
			},
			"400": map[string]any{"$ref": "#/components/responses/BadRequest"},
			"401": map[string]any{"$ref": "#/components/responses/Unauthorized"},
			"404": map[string]any{"$ref": "#/components/responses/NotFound"},
			"500": map[string]any{"$ref": "#/components/responses/Internal"},
			"503": map[string]any{"$ref": "#/components/responses/Unavailable"},
		},
	}
	b, _ := json.Marshal(op)
	return b
}
