// Package collection serves the instance's published models in the files
// bioimage.io's consumers read, so that the analysis tools scientists use
// (bioimageio.spec and the tools built on it — bioimageio.core, ilastik,
// napari plugins —, JDLL with deepImageJ 3 and Icy, deepImageJ 2, the
// bioimage.io collection scripts) can be pointed at a zoo instance:
//
//   - /collection.json: the generation-2 collection file (a collection RDF
//     with the resources under "collection", each entry with every field of
//     bioimage.io's CollectionEntry, see Entry), sorted by download count,
//     then newest first;
//   - /all_versions.json: the generation-2 version list read by JDLL and
//     deepImageJ 3 (entries[{concept, type, concept_doi, versions[{v,
//     created, doi, source, sha256}]}]), see AllVersions;
//   - /id_map.json: the generation-2 id map read by bioimageio.spec
//     (BIOIMAGEIO_ID_MAP), {"ID": {source, sha256}, "ID/N": {…}}, see IDMap;
//   - /index.json: the generation-3 index (count_per_type, items with id,
//     type and versions[{version, created_at, sha256, source, comment}],
//     timestamp, total).
//
// All are built for every request from the catalog's published and retired
// versions, so they are never stale (an ETag, the SHA-256 of the body,
// lets pollers revalidate cheaply). What is derived from a version's
// description (immutable once published) is cached per version.
//
// zoo adds a per-version summary (state, the package and description URLs
// of this instance, the test status with the status per weight format from
// the stored test report, and tool compatibility, declared apart from
// tested): under "zoo_versions" in collection.json entries, under
// "versions" in index.json items. Every URL is absolute, on this instance.
//
// # Deliberate differences from bioimage.io
//
//   - Ids are zoo's model ids ("shy-owl"), not prefixed with a workspace
//     ("bioimage-io/…"); a version is named by its number as a string
//     ("1", "2"), where bioimage.io used the description's version field
//     or "v0", because zoo's version numbers are what its URLs and the id
//     map use.
//   - Versions are listed newest (highest number) first everywhere, as
//     bioimage.io's own files do; "created" is the publication time.
//   - A retired version is still listed in collection.json (its files are
//     still served, its state is in zoo_versions) and in the id map under
//     "ID/N", so pinned references keep resolving; it is left out of
//     all_versions.json and of the id map's "ID", because JDLL and
//     bioimageio.spec take those as "the latest version to use". An entry
//     describes the latest published version (or the latest retired one
//     when none is published).
//   - concept_doi is null: zoo mints DOIs per version (doi and dois), not
//     per model.
//   - download_count is always a number (never "?").
//   - nickname is the id and nickname_icon is null: zoo's ids have no
//     emoji.
//   - uploader is the description's uploader when it has one, else the
//     name of the account that uploaded the version with a null email
//     (zoo keeps no e-mail addresses).
//   - tags and links gain "<tool>-compatible" and the tool's bioimage.io
//     id (e.g. "deepimagej/deepimagej") for every tool whose weight format
//     zoo's own test reproduced (compat.Tested), as bioimage.io did for
//     passed partner checks; zoo did not run the tool itself.
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
	"unicode/utf8"

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
	// RawDescription returns the bytes of a version's description file as
	// stored (≤ 8 MiB, validated at upload), for the fields the typed
	// description does not keep (links, badges, icon, training_data,
	// uploader).
	RawDescription(ctx context.Context, v *zoo.Version) ([]byte, error)
	// UserName returns the name of a user account ("" and a NotFound
	// error if unknown; another error when it cannot be read now).
	UserName(ctx context.Context, id int64) (string, error)
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

func (s repoSource) RawDescription(ctx context.Context, v *zoo.Version) ([]byte, error) {
	return s.svc.RawDescription(ctx, v)
}

func (s repoSource) UserName(ctx context.Context, id int64) (string, error) {
	u, err := s.svc.Catalog().UserByID(ctx, id)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}

// Options configure the files.
type Options struct {
	// Base is the public base URL ("https://zoo.example.org"); "" means
	// each request's scheme and host.
	Base string
	// Name and Description of the collection; "" means "zoo at HOST" and a
	// sentence naming the host.
	Name, Description string
	// DOI returns a version's DOI, "" if none was minted (nil: no DOIs).
	// A DOI found is kept for the handler's lifetime; an absence is asked
	// again after doiRetry.
	DOI func(ctx context.Context, v *zoo.Version) string
}

// Handler serves the files.
type Handler struct {
	src  Source
	opts Options
	now  func() time.Time

	mu    sync.Mutex
	descs map[string]*described // by id/n/package sha256
	dois  map[string]doiEntry   // by id/n
}

type doiEntry struct {
	doi     string
	checked time.Time
}

// doiRetry is how long a version without a DOI is not asked again.
const doiRetry = 5 * time.Minute

// New returns the handler.
func New(src Source, opts Options) *Handler {
	opts.Base = strings.TrimRight(opts.Base, "/")
	return &Handler{src: src, opts: opts, now: time.Now, descs: map[string]*described{}, dois: map[string]doiEntry{}}
}

// Routes are the handler's routes: GET (and HEAD) /collection.json,
// /all_versions.json, /id_map.json and /index.json.
func (h *Handler) Routes() []web.Route {
	return []web.Route{
		{Pattern: "GET /collection.json", Handler: http.HandlerFunc(h.ServeCollection)},
		{Pattern: "GET /all_versions.json", Handler: http.HandlerFunc(h.ServeAllVersions)},
		{Pattern: "GET /id_map.json", Handler: http.HandlerFunc(h.ServeIDMap)},
		{Pattern: "GET /index.json", Handler: http.HandlerFunc(h.ServeIndex)},
	}
}

// maxCached bounds the per-version cache (entries of a few KiB).
const maxCached = 100_000

// described is what a version's description contributes (immutable).
type described struct {
	name, description, license string
	authors                    []Author
	tags, covers               []string
	declared                   []string
	extra                      extras
	uploader                   string      // the uploading account's name
	desc                       *spec.Model // for compat.Tested; nil if unreadable

	// The test-derived part, for the report last seen (a version's report
	// changes only when it is tested again); guarded by Handler.mu.
	report  string
	formats map[string]string
	tested  []string
}

// Author is an author in the collection files (bioimage.io's Author; zoo
// adds github_user).
type Author struct {
	Name        string `json:"name"`
	Affiliation string `json:"affiliation,omitempty"`
	Email       string `json:"email,omitempty"`
	ORCID       string `json:"orcid,omitempty"`
	GitHubUser  string `json:"github_user,omitempty"`
}

// Badge is a collection entry's badge (bioimage.io layout).
type Badge struct {
	Icon  string `json:"icon"`
	Label string `json:"label"`
	URL   string `json:"url"`
}

// Uploader is who uploaded a version (bioimage.io's Uploader); Email is
// nil unless the description names one.
type Uploader struct {
	Name  string  `json:"name"`
	Email *string `json:"email"`
}

// TrainingData names the dataset a model was trained on.
type TrainingData struct {
	ID string `json:"id"`
}

// Compatibility lists tool ids (see package compat): Declared from the
// tools' documented support, Tested from the weight formats zoo's test
// reproduced.
type Compatibility struct {
	Declared []string `json:"declared"`
	Tested   []string `json:"tested"`
}

// Test is a version's test result: the overall status and the status per
// weight format from the stored report. Converted lists the formats zoo
// made from the version's PyTorch state dict (they are in the package at
// ConvertedURL, not in the package as uploaded).
type Test struct {
	Status       zoo.TestStatus    `json:"status"`
	Formats      map[string]string `json:"formats"`
	Report       string            `json:"report"` // URL of the version record holding the full report
	Converted    []string          `json:"converted,omitempty"`
	ConvertedURL string            `json:"converted_url,omitempty"`
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
	DOI           string        `json:"doi,omitempty"`
	DownloadURL   string        `json:"download_url"` // the package zip
	PackageSHA256 string        `json:"package_sha256"`
	PackageSize   int64         `json:"package_size"`
	Test          Test          `json:"test"`
	Compatibility Compatibility `json:"compatibility"`

	published time.Time // full precision, for all_versions.json
}

// Entry is one resource of collection.json: the fields of bioimage.io's
// CollectionEntry (bioimage-io/collection, collection_json.py), then
// zoo's. Optional fields of that model are written as null, not left out.
type Entry struct {
	Authors       []Author      `json:"authors"`
	Badges        []Badge       `json:"badges"`
	ConceptDOI    *string       `json:"concept_doi"`
	Covers        []string      `json:"covers"`
	Created       string        `json:"created"`
	Description   string        `json:"description"`
	DownloadCount int64         `json:"download_count"`
	DownloadURL   string        `json:"download_url"`
	Icon          *string       `json:"icon"`
	ID            string        `json:"id"`
	License       string        `json:"license"`
	Links         []string      `json:"links"`
	Name          string        `json:"name"`
	NicknameIcon  *string       `json:"nickname_icon"`
	Nickname      string        `json:"nickname"`
	RDFSHA256     string        `json:"rdf_sha256"`
	RDFSource     string        `json:"rdf_source"`
	RootURL       string        `json:"root_url"`
	Tags          []string      `json:"tags"`
	TrainingData  *TrainingData `json:"training_data"`
	Type          string        `json:"type"`
	Source        string        `json:"source"`
	Uploader      Uploader      `json:"uploader"`
	// Versions are the version names, newest first; DOIs their DOIs
	// (null where none was minted), in the same order.
	Versions []string  `json:"versions"`
	DOIs     []*string `json:"dois"`

	ZooVersions   []VersionSummary `json:"zoo_versions"`
	Compatibility Compatibility    `json:"compatibility"`
}

// Collection is collection.json.
type Collection struct {
	FormatVersion string   `json:"format_version"`
	Type          string   `json:"type"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Tags          []string `json:"tags"`
	Authors       []Author `json:"authors"`
	Cite          []any    `json:"cite"`
	Config        Config   `json:"config"`
	Created       string   `json:"created"`
	Collection    []Entry  `json:"collection"`
}

// Config is collection.json's config (bioimage.io's CollectionWebsiteConfig
// fields that are not website styling).
type Config struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	URLRoot           string         `json:"url_root"`
	NResources        map[string]int `json:"n_resources"`         // per type
	NResourceVersions map[string]int `json:"n_resource_versions"` // per type
	ResourceTypes     []string       `json:"resource_types"`
	DefaultType       string         `json:"default_type"`
	Partners          []any          `json:"partners"`
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

// built is what the files share.
type built struct {
	base    string
	entries []Entry // newest version first in ZooVersions
	latest  time.Time
	nVers   map[string]int
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
	b := &built{base: base, nVers: map[string]int{}}
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
			Badges: []Badge{}, Links: []string{}, Versions: []string{}, DOIs: []*string{}}
		for _, v := range vs {
			d := h.described(ctx, v)
			formats, tested := h.testPart(d, v)
			s := summary(base, v, d, formats, tested)
			s.DOI = h.doi(ctx, v)
			e.ZooVersions = append(e.ZooVersions, s)
			e.Versions = append(e.Versions, s.Version)
			e.DOIs = append(e.DOIs, nullable(s.DOI))
			if v == head {
				h.fillHead(&e, base, v, d, s)
			}
			if t := published(v); t.After(b.latest) {
				b.latest = t
			}
			b.nVers[typ]++
		}
		e.Covers = nonNil(e.Covers)
		b.entries = append(b.entries, e)
	}
	return b, nil
}

// fillHead fills the entry's fields that come from its head version.
func (h *Handler) fillHead(e *Entry, base string, v *zoo.Version, d *described, s VersionSummary) {
	e.Name, e.Description, e.License = d.name, d.description, d.license
	e.Authors, e.Compatibility = d.authors, s.Compatibility
	e.Tags = append([]string{}, d.tags...)
	e.Links = append([]string{}, d.extra.Links...)
	for _, t := range s.Compatibility.Tested {
		// As bioimage.io did for passed partner checks.
		if tag := t + "-compatible"; !slices.Contains(e.Tags, tag) {
			e.Tags = append(e.Tags, tag)
		}
		if l := toolLinks[t]; l != "" && !slices.Contains(e.Links, l) {
			e.Links = append(e.Links, l)
		}
	}
	for _, c := range d.covers {
		e.Covers = append(e.Covers, fileURL(base, v, c))
	}
	for _, bd := range d.extra.Badges {
		if bd.Icon != "" {
			bd.Icon = fileURL(base, v, bd.Icon)
		}
		e.Badges = append(e.Badges, Badge{Icon: bd.Icon, Label: bd.Label, URL: fileURL(base, v, bd.URL)})
	}
	if ic := d.extra.Icon; ic != "" {
		if utf8.RuneCountInString(ic) > 2 { // a file, not an emoji
			ic = fileURL(base, v, ic)
		}
		e.Icon = &ic
	}
	if d.extra.TrainingData != "" {
		e.TrainingData = &TrainingData{ID: d.extra.TrainingData}
	}
	e.Uploader = Uploader{Name: d.uploader}
	if u := d.extra.Uploader; u.Email != "" {
		email := u.Email
		e.Uploader = Uploader{Name: cmp.Or(u.Name, d.uploader), Email: &email}
	}
	e.Created, e.DownloadURL, e.RDFSource, e.RDFSHA256 = s.CreatedAt, s.DownloadURL, s.Source, s.SHA256
	e.Source = s.Source
	e.RootURL = base + "/files/" + url.PathEscape(v.ModelID) + "/" + strconv.Itoa(v.Number)
}

// toolLinks are the bioimage.io resource ids of tools (compat ids) that
// bioimage.io's collection lists as partner applications.
var toolLinks = map[string]string{
	"deepimagej": "deepimagej/deepimagej",
	"ilastik":    "ilastik/ilastik",
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
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

// doi returns the version's DOI through Options.DOI, cached.
func (h *Handler) doi(ctx context.Context, v *zoo.Version) string {
	if h.opts.DOI == nil {
		return ""
	}
	key := v.ModelID + "/" + strconv.Itoa(v.Number)
	now := h.now()
	h.mu.Lock()
	e, ok := h.dois[key]
	h.mu.Unlock()
	if ok && (e.doi != "" || now.Sub(e.checked) < doiRetry) {
		return e.doi
	}
	d := h.opts.DOI(ctx, v)
	if ctx.Err() != nil {
		return d
	}
	h.mu.Lock()
	if len(h.dois) >= maxCached {
		clear(h.dois)
	}
	h.dois[key] = doiEntry{doi: d, checked: now}
	h.mu.Unlock()
	return d
}

// described returns the version's description-derived part, cached only
// when every read behind it succeeded: an entry built while the blob store
// or the catalog failed (no authors, no compatibility, no uploader) is
// served for this request and built again by the next, so an outage never
// outlives itself in the cache. A user that does not exist (NotFound) is
// not a failure.
func (h *Handler) described(ctx context.Context, v *zoo.Version) *described {
	key := v.ModelID + "/" + strconv.Itoa(v.Number) + "/" + v.PackageSHA256
	h.mu.Lock()
	d, ok := h.descs[key]
	h.mu.Unlock()
	if ok {
		return d
	}
	d = &described{name: v.Name, description: v.Description, authors: []Author{}, tags: []string{}}
	complete := true
	desc, err := h.src.Description(ctx, v)
	if err == nil && desc != nil {
		d.desc = desc
		d.name = cmp.Or(desc.Name, v.Name)
		d.description = cmp.Or(desc.Description, v.Description)
		d.license = desc.License
		d.tags = append(d.tags, desc.Tags...)
		d.covers = desc.Covers
		for _, a := range desc.Authors {
			d.authors = append(d.authors, Author{a.Name, a.Affiliation, a.Email, a.ORCID, a.GitHubUser})
		}
		d.declared = compat.Declared(desc)
		if raw, err := h.src.RawDescription(ctx, v); err == nil {
			d.extra = parseExtras(raw)
		} else {
			complete = false
		}
	} else {
		complete = false
	}
	name, err := h.src.UserName(ctx, v.UploaderID)
	if err != nil && zoo.KindOf(err) != zoo.NotFound {
		complete = false
	}
	d.uploader = name
	if !complete || ctx.Err() != nil {
		return d // never cache a failed or cancelled read as data
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
		published:     published(v),
	}
	if c := v.Converted; c != nil && len(c.Formats) > 0 && c.Package != nil {
		for _, f := range c.Formats {
			s.Test.Converted = append(s.Test.Converted, f.Format)
		}
		s.Test.ConvertedURL = base + "/api/v1/models/" + url.PathEscape(v.ModelID) + "/versions/" + strconv.Itoa(v.Number) + "/converted.zip"
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
	nRes := map[string]int{}
	for _, e := range entries {
		nRes[e.Type]++
	}
	rt := make([]string, 0, len(nRes))
	for t := range nRes {
		rt = append(rt, t)
	}
	slices.Sort(rt)
	if len(rt) == 0 {
		rt = []string{"model"}
	}
	c := &Collection{
		FormatVersion: "0.2.3", Type: "collection",
		Name:        cmp.Or(h.opts.Name, "zoo at "+host),
		Description: cmp.Or(h.opts.Description, "Models published at "+host+", a zoo repository of bioimage.io resources"),
		Tags:        []string{}, Authors: []Author{}, Cite: []any{},
		Config: Config{
			ID: "zoo", Name: cmp.Or(h.opts.Name, "zoo at "+host), URLRoot: base,
			NResources: nRes, NResourceVersions: b.nVers,
			ResourceTypes: rt, DefaultType: "model", Partners: []any{},
		},
		Created:    stamp(b.latest),
		Collection: nonNil(entries),
	}
	return c, nil
}

// AllVersions is all_versions.json (bioimage.io's AllVersions), read by
// JDLL (BioimageioRepo) for deepImageJ 3 and Icy.
type AllVersions struct {
	Entries []Concept `json:"entries"`
}

// Concept is one model in all_versions.json; Versions are its published
// versions, newest first. Entries are ordered by their newest version,
// newest first.
type Concept struct {
	Concept    string           `json:"concept"`
	Type       string           `json:"type"`
	ConceptDOI *string          `json:"concept_doi"`
	Versions   []ConceptVersion `json:"versions"`
}

// ConceptVersion is one published version in all_versions.json.
type ConceptVersion struct {
	V string `json:"v"`
	// Created is the publication time in UTC as JDLL parses it:
	// microseconds and no zone ("2006-01-02T15:04:05.000000").
	Created string  `json:"created"`
	DOI     *string `json:"doi"`
	// Source is the description's URL; it ends in "/rdf.yaml" and the
	// version's files are beside it.
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

// createdLayout is the time layout of all_versions.json's created: what
// JDLL's DateTimeFormatter "yyyy-MM-dd'T'HH:mm:ss.SSSSSS" parses.
const createdLayout = "2006-01-02T15:04:05.000000"

// AllVersions builds all_versions.json for the public base URL.
func (h *Handler) AllVersions(ctx context.Context, base string) (*AllVersions, error) {
	b, err := h.build(ctx, base)
	if err != nil {
		return nil, err
	}
	type dated struct {
		c      Concept
		newest string
	}
	var ds []dated
	for _, e := range b.entries {
		c := Concept{Concept: e.ID, Type: e.Type, Versions: []ConceptVersion{}}
		for _, s := range e.ZooVersions {
			if s.State != zoo.StatePublished {
				continue
			}
			c.Versions = append(c.Versions, ConceptVersion{V: s.Version, Created: s.published.Format(createdLayout),
				DOI: nullable(s.DOI), Source: s.Source, SHA256: s.SHA256})
		}
		if len(c.Versions) > 0 {
			ds = append(ds, dated{c, c.Versions[0].Created})
		}
	}
	slices.SortStableFunc(ds, func(x, y dated) int {
		return cmp.Or(strings.Compare(y.newest, x.newest), strings.Compare(x.c.Concept, y.c.Concept))
	})
	av := &AllVersions{Entries: make([]Concept, 0, len(ds))}
	for _, d := range ds {
		av.Entries = append(av.Entries, d.c)
	}
	return av, nil
}

// FileRef is an id map value (bioimageio.spec's LightHttpFileDescr): the
// URL of a description file and its SHA-256.
type FileRef struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

// IDMap builds id_map.json: "ID/N" for every published and retired
// version, and "ID" for the latest published version of each model,
// pointing at the version's own (immutable) description URL.
func (h *Handler) IDMap(ctx context.Context, base string) (map[string]FileRef, error) {
	b, err := h.build(ctx, base)
	if err != nil {
		return nil, err
	}
	m := make(map[string]FileRef, len(b.entries)*2)
	for _, e := range b.entries {
		latest := false
		for _, s := range e.ZooVersions { // newest first
			ref := FileRef{Source: s.Source, SHA256: s.SHA256}
			m[e.ID+"/"+s.Version] = ref
			if !latest && s.State == zoo.StatePublished {
				m[e.ID] = ref
				latest = true
			}
		}
	}
	return m, nil
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
		ix.Items = append(ix.Items, IndexItem{ID: e.ID, Type: e.Type, Versions: e.ZooVersions})
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

// ServeAllVersions serves GET|HEAD /all_versions.json.
func (h *Handler) ServeAllVersions(w http.ResponseWriter, r *http.Request) {
	av, err := h.AllVersions(r.Context(), h.base(r))
	h.write(w, r, av, err)
}

// ServeIDMap serves GET|HEAD /id_map.json.
func (h *Handler) ServeIDMap(w http.ResponseWriter, r *http.Request) {
	m, err := h.IDMap(r.Context(), h.base(r))
	h.write(w, r, m, err)
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
