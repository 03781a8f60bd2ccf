// Package collection serves the instance's published models in the layouts
// of bioimage.io's collection files, so that tools that read those files
// (deepImageJ, ilastik, the bioimage.io website code, scripts) can be
// pointed at a zoo instance:
//
//   - /collection.json: the generation-2 collection file (a collection RDF
//     with the resources under "collection", each entry with the fields of
//     bioimage.io's CollectionEntry: id, type, name, description, authors,
//     covers, created, download_count, download_url, license, links, tags,
//     rdf_source, source, root_url, badges, nickname, …), sorted by download
//     count, then newest first;
//   - /index.json: the generation-3 index (count_per_type, items with id,
//     type and versions[{version, created_at, sha256, source, comment}],
//     timestamp, total).
//
// Both are built for every request from the catalog's published and retired
// versions, so they are never stale (an ETag, the SHA-256 of the body,
// lets pollers revalidate cheaply). What is derived from a version's
// description (immutable once published) is cached per version.
//
// zoo adds, in both files, a per-version summary under "versions": state,
// the package and description URLs of this instance, the test status with
// the status per weight format from the stored test report, and tool
// compatibility, declared (compat.Declared) apart from tested
// (compat.Tested). Every URL is absolute, on this instance.
//
// Choices: an entry's id is the model id (ids here are not prefixed with a
// workspace like "bioimage-io/"); a version is named by its number as a
// string ("1", "2"); an entry describes the latest published version (or
// the latest retired one when none is published); retired versions are
// listed with state "retired" and their reason; models of other types than
// "model" are listed with their type.
package collection

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/compat"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// Source is what the collection files are built from.
type Source interface {
	// Public returns the models that have a published or retired version
	// and all their published and retired versions (nothing else).
	Public(ctx context.Context) ([]*zoo.Model, []*zoo.Version, error)
	// Description returns a version's decoded description.
	Description(ctx context.Context, v *zoo.Version) (*spec.Model, error)
}

// RepoSource is the Source of a repository service (two catalog queries;
// descriptions from the service's cache).
func RepoSource(svc *repo.Service) Source { return repoSource{svc} }

type repoSource struct{ svc *repo.Service }

func (s repoSource) Public(ctx context.Context) ([]*zoo.Model, []*zoo.Version, error) {
	cat := s.svc.Catalog()
	ms, err := cat.ListModels(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	vs, err := cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StatePublished, zoo.StateRetired}})
	return ms, vs, err
}

func (s repoSource) Description(ctx context.Context, v *zoo.Version) (*spec.Model, error) {
	return s.svc.Description(ctx, v)
}

// Options configure the files.
type Options struct {
	// Base is the public base URL ("https://zoo.example.org"); "" means
	// each request's scheme and host.
	Base string
	// Name and Description of the collection; "" means "zoo at HOST" and a
	// sentence naming the host.
	Name, Description string
}

// Handler serves both files.
type Handler struct {
	src  Source
	opts Options

	mu    sync.Mutex
	descs map[string]*described // by id/n/package sha256
}

// New returns the handler.
func New(src Source, opts Options) *Handler {
	opts.Base = strings.TrimRight(opts.Base, "/")
	return &Handler{src: src, opts: opts, descs: map[string]*described{}}
}

// maxCached bounds the per-version cache (entries of a few KiB).
const maxCached = 100_000

// described is what a version's description contributes (immutable).
type described struct {
	name, description, license string
	authors                    []Author
	tags, covers               []string
	declared                   []string
	desc                       *spec.Model // for compat.Tested; nil if unreadable

	// The test-derived part, for the report last seen (a version's report
	// changes only when it is tested again); guarded by Handler.mu.
	report  string
	formats map[string]string
	tested  []string
}

// Author is an author in the collection files.
type Author struct {
	Name        string `json:"name"`
	Affiliation string `json:"affiliation,omitempty"`
	ORCID       string `json:"orcid,omitempty"`
	GitHubUser  string `json:"github_user,omitempty"`
}

// Badge is a collection entry's badge (bioimage.io layout).
type Badge struct {
	Icon  string `json:"icon"`
	Label string `json:"label"`
	URL   string `json:"url"`
}

// Compatibility lists tool ids (see package compat): Declared from the
// tools' documented support, Tested from the weight formats zoo's test
// reproduced.
type Compatibility struct {
	Declared []string `json:"declared"`
	Tested   []string `json:"tested"`
}

// Test is a version's test result: the overall status and the status per
// weight format from the stored report.
type Test struct {
	Status  zoo.TestStatus    `json:"status"`
	Formats map[string]string `json:"formats"`
	Report  string            `json:"report"` // URL of the version record holding the full report
}

// VersionSummary is zoo's summary of one version. The first five fields
// are those of bioimage.io's index.json versions.
type VersionSummary struct {
	Version       string        `json:"version"`
	CreatedAt     string        `json:"created_at"`
	SHA256        string        `json:"sha256"` // of the description file
	Source        string        `json:"source"` // URL of the description file
	Comment       string        `json:"comment"`
	Number        int           `json:"version_number"`
	State         zoo.State     `json:"state"`
	RetiredReason string        `json:"retired_reason,omitempty"`
	DownloadURL   string        `json:"download_url"` // the package zip
	PackageSHA256 string        `json:"package_sha256"`
	PackageSize   int64         `json:"package_size"`
	Test          Test          `json:"test"`
	Compatibility Compatibility `json:"compatibility"`
}

// Entry is one resource of collection.json.
type Entry struct {
	ID            string           `json:"id"`
	Type          string           `json:"type"`
	Name          string           `json:"name"`
	Description   string           `json:"description"`
	Nickname      string           `json:"nickname"`
	Authors       []Author         `json:"authors"`
	Badges        []Badge          `json:"badges"`
	Covers        []string         `json:"covers"`
	Created       string           `json:"created"`
	DownloadCount int64            `json:"download_count"`
	DownloadURL   string           `json:"download_url"`
	License       string           `json:"license"`
	Links         []string         `json:"links"`
	Tags          []string         `json:"tags"`
	RDFSource     string           `json:"rdf_source"`
	Source        string           `json:"source"`
	RootURL       string           `json:"root_url"`
	Versions      []VersionSummary `json:"versions"`
	Compatibility Compatibility    `json:"compatibility"`
}

// Collection is collection.json.
type Collection struct {
	FormatVersion string         `json:"format_version"`
	Type          string         `json:"type"`
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Tags          []string       `json:"tags"`
	Authors       []Author       `json:"authors"`
	Cite          []any          `json:"cite"`
	Config        map[string]any `json:"config"`
	Created       string         `json:"created"`
	Collection    []Entry        `json:"collection"`
}

// IndexItem is one item of index.json.
type IndexItem struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Versions []VersionSummary `json:"versions"`
}

// Index is index.json.
type Index struct {
	CountPerType map[string]int `json:"count_per_type"`
	Items        []IndexItem    `json:"items"`
	Timestamp    string         `json:"timestamp"`
	Total        int            `json:"total"`
}

// built is what both files share.
type built struct {
	base    string
	entries []Entry // newest version first in Versions
	latest  time.Time
	nVers   int
}

// build reads the source and assembles the entries.
func (h *Handler) build(ctx context.Context, base string) (*built, error) {
	models, versions, err := h.src.Public(ctx)
	if err != nil {
		return nil, err
	}
	byModel := map[string][]*zoo.Version{}
	for _, v := range versions {
		if v.State.Public() {
			byModel[v.ModelID] = append(byModel[v.ModelID], v)
		}
	}
	b := &built{base: base}
	for _, m := range models {
		vs := byModel[m.ID]
		if len(vs) == 0 {
			continue
		}
		slices.SortFunc(vs, func(a, b *zoo.Version) int { return cmp.Compare(b.Number, a.Number) })
		// The entry shows the latest published version, else the latest retired.
		head := vs[0]
		for _, v := range vs {
			if v.State == zoo.StatePublished {
				head = v
				break
			}
		}
		typ := cmp.Or(m.Type, "model")
		e := Entry{ID: m.ID, Type: typ, Nickname: m.ID, DownloadCount: m.Downloads,
			Badges: []Badge{}, Links: []string{}}
		for _, v := range vs {
			d := h.described(ctx, v)
			formats, tested := h.testPart(d, v)
			s := summary(base, v, d, formats, tested)
			e.Versions = append(e.Versions, s)
			if v == head {
				e.Name, e.Description, e.License = d.name, d.description, d.license
				e.Authors, e.Tags, e.Compatibility = d.authors, d.tags, s.Compatibility
				for _, c := range d.covers {
					e.Covers = append(e.Covers, fileURL(base, v, c))
				}
				e.Created, e.DownloadURL, e.RDFSource = s.CreatedAt, s.DownloadURL, s.Source
				e.Source = s.Source
				e.RootURL = base + "/files/" + url.PathEscape(v.ModelID) + "/" + strconv.Itoa(v.Number)
			}
			if t := published(v); t.After(b.latest) {
				b.latest = t
			}
			b.nVers++
		}
		e.Covers = nonNil(e.Covers)
		b.entries = append(b.entries, e)
	}
	return b, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func published(v *zoo.Version) time.Time {
	if v.PublishedAt != nil {
		return v.PublishedAt.UTC()
	}
	return v.CreatedAt.UTC()
}

// described returns the version's description-derived part, cached.
func (h *Handler) described(ctx context.Context, v *zoo.Version) *described {
	key := v.ModelID + "/" + strconv.Itoa(v.Number) + "/" + v.PackageSHA256
	h.mu.Lock()
	d, ok := h.descs[key]
	h.mu.Unlock()
	if ok {
		return d
	}
	d = &described{name: v.Name, description: v.Description, authors: []Author{}, tags: []string{}}
	desc, err := h.src.Description(ctx, v)
	if err == nil && desc != nil {
		d.desc = desc
		d.name = cmp.Or(desc.Name, v.Name)
		d.description = cmp.Or(desc.Description, v.Description)
		d.license = desc.License
		d.tags = append(d.tags, desc.Tags...)
		d.covers = desc.Covers
		for _, a := range desc.Authors {
			d.authors = append(d.authors, Author{a.Name, a.Affiliation, a.ORCID, a.GitHubUser})
		}
		d.declared = compat.Declared(desc)
	} else if ctx.Err() != nil {
		return d // do not cache a cancelled read
	}
	h.mu.Lock()
	if len(h.descs) >= maxCached {
		clear(h.descs)
	}
	h.descs[key] = d
	h.mu.Unlock()
	return d
}

// testPart returns the status per weight format and the tested tools of a
// version's stored report, decoding the report only when it changed.
func (h *Handler) testPart(d *described, v *zoo.Version) (map[string]string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d.formats != nil && d.report == string(v.TestReport) {
		return d.formats, d.tested
	}
	formats := compat.FormatStatuses(v.TestReport)
	if formats == nil {
		formats = map[string]string{}
	}
	tested := []string{}
	if d.desc != nil {
		tested = nonNil(compat.Tested(d.desc, v.TestReport))
	}
	d.report, d.formats, d.tested = string(v.TestReport), formats, tested
	return formats, tested
}

func summary(base string, v *zoo.Version, d *described, formats map[string]string, tested []string) VersionSummary {
	s := VersionSummary{
		Version: strconv.Itoa(v.Number), Number: v.Number, CreatedAt: published(v).Format(time.RFC3339),
		Comment: v.ReviewComment, State: v.State, RetiredReason: v.RetiredReason,
		Source:        fileURL(base, v, v.DescriptionFile),
		DownloadURL:   base + "/packages/" + url.PathEscape(v.ModelID) + "/" + strconv.Itoa(v.Number),
		PackageSHA256: v.PackageSHA256, PackageSize: v.PackageSize,
		Test: Test{Status: cmp.Or(v.TestStatus, zoo.TestPending), Formats: formats,
			Report: base + "/api/v1/models/" + url.PathEscape(v.ModelID) + "/versions/" + strconv.Itoa(v.Number)},
		Compatibility: Compatibility{Declared: nonNil(d.declared), Tested: tested},
	}
	for _, f := range v.Files {
		if f.Path == v.DescriptionFile {
			s.SHA256 = f.SHA256
		}
	}
	return s
}

// fileURL is the URL of a file of the version; absolute URLs (remote
// covers) are kept.
func fileURL(base string, v *zoo.Version, p string) string {
	if strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "http://") {
		return p
	}
	segs := strings.Split(strings.TrimPrefix(p, "./"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return base + "/files/" + url.PathEscape(v.ModelID) + "/" + strconv.Itoa(v.Number) + "/" + strings.Join(segs, "/")
}

// Collection builds collection.json for the public base URL.
func (h *Handler) Collection(ctx context.Context, base string) (*Collection, error) {
	b, err := h.build(ctx, base)
	if err != nil {
		return nil, err
	}
	entries := slices.Clone(b.entries)
	slices.SortStableFunc(entries, func(x, y Entry) int {
		return cmp.Or(cmp.Compare(y.DownloadCount, x.DownloadCount), strings.Compare(y.Created, x.Created), strings.Compare(x.ID, y.ID))
	})
	host := hostOf(base)
	types := map[string]bool{}
	for _, e := range entries {
		types[e.Type] = true
	}
	rt := make([]string, 0, len(types))
	for t := range types {
		rt = append(rt, t)
	}
	slices.Sort(rt)
	c := &Collection{
		FormatVersion: "0.2.3", Type: "collection",
		Name:        cmp.Or(h.opts.Name, "zoo at "+host),
		Description: cmp.Or(h.opts.Description, "Models published at "+host+", a zoo repository of bioimage.io resources"),
		Tags:        []string{}, Authors: []Author{}, Cite: []any{},
		Config: map[string]any{
			"id": "zoo", "name": cmp.Or(h.opts.Name, "zoo at "+host), "url_root": base,
			"n_resources": len(entries), "n_resource_versions": b.nVers,
			"resource_types": rt, "default_type": "model", "partners": []any{},
		},
		Created:    stamp(b.latest),
		Collection: nonNil(entries),
	}
	return c, nil
}

// Index builds index.json for the public base URL.
func (h *Handler) Index(ctx context.Context, base string) (*Index, error) {
	b, err := h.build(ctx, base)
	if err != nil {
		return nil, err
	}
	ix := &Index{CountPerType: map[string]int{}, Items: []IndexItem{}, Timestamp: stamp(b.latest), Total: len(b.entries)}
	for _, e := range b.entries {
		ix.CountPerType[e.Type]++
		ix.Items = append(ix.Items, IndexItem{ID: e.ID, Type: e.Type, Versions: e.Versions})
	}
	slices.SortFunc(ix.Items, func(x, y IndexItem) int { return strings.Compare(x.ID, y.ID) })
	return ix, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func hostOf(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return "localhost"
}

// base is the public base URL for a request (see web.BaseURL).
func (h *Handler) base(r *http.Request) string { return web.BaseURL(r, h.opts.Base) }

// ServeCollection serves GET|HEAD /collection.json.
func (h *Handler) ServeCollection(w http.ResponseWriter, r *http.Request) {
	c, err := h.Collection(r.Context(), h.base(r))
	h.write(w, r, c, err)
}

// ServeIndex serves GET|HEAD /index.json.
func (h *Handler) ServeIndex(w http.ResponseWriter, r *http.Request) {
	ix, err := h.Index(r.Context(), h.base(r))
	h.write(w, r, ix, err)
}

// write sends v as JSON with a strong ETag of its bytes; a matching
// If-None-Match gets 304.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		web.Fail(w, r, zoo.E("collection", zoo.Internal, err, "the collection file could not be made"))
		return
	}
	sum := sha256.Sum256(buf.Bytes())
	hdr := w.Header()
	hdr.Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	hdr.Set("Cache-Control", "public, no-cache")
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Content-Type", "application/json")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, hdr.Get("ETag")) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
