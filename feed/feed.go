// Package feed serves Atom 1.0 feeds (RFC 4287) of the instance's new
// versions, so that downstream catalogues, feed readers and CI jobs learn
// of a new or retired version by polling instead of by hand:
//
//   - GET /feed.atom: the instance's newest events;
//   - GET /models/{id}/feed.atom: the same events for one model (404
//     problem details for an unknown model or one without a public
//     version). The pattern is more specific than the pages' /models/{id}/{n}
//     and wins over it in the ServeMux; no version is numbered "feed.atom".
//
// An event is a version published (dated at publication) or a version
// retired (dated at retirement, its reason in the summary); a retired
// version therefore appears twice, as its publication and as its
// retirement. Only published and retired versions are ever read: drafts,
// submissions and rejected versions never appear. Events are newest first,
// DefaultLimit of them unless ?limit=N (1–MaxLimit); ?type=T keeps models
// of type T, ?tag=T (repeatable, all must match) versions whose description
// has the tag (case-insensitive, as package search).
//
// Each entry's id is a tag URI (RFC 4151) made of the instance's host, the
// version's publication date, model id, version number and event kind
// ("tag:zoo.example.org,2026-01-02:zoo/model/ID/N/published"), so a poller
// never sees an event twice and sees a retirement as a new entry. Every
// URL is absolute on the public base URL (Options.Base, else the
// request's scheme and host, as packages collection and oai decide).
//
// Responses carry a strong ETag (SHA-256 of the body), Last-Modified (the
// newest entry) and Cache-Control: public, max-age=60; If-None-Match and
// If-Modified-Since answer 304.
package feed

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// ContentType is the media type of the feeds.
const ContentType = "application/atom+xml; charset=utf-8"

// Caps on what one entry carries from a description.
const (
	maxName        = 300
	maxSummary     = 4000
	maxPeople      = 50
	maxCategories  = 50
	maxCached      = 100_000 // per-version derived parts kept
	maxModelID     = 200
	cacheControl   = "public, max-age=60"
	publishedEvent = "published"
	retiredEvent   = "retired"
)

// Item is a published or retired version as a Source returns it.
type Item struct {
	Version *zoo.Version
	// Type is the model's resource type ("model" when empty).
	Type string
	// Retired is when a retired version was retired (zero if not retired
	// or unknown; the event is then dated at publication).
	Retired time.Time
}

// Source is what the feeds are built from.
type Source interface {
	// Items returns the published and retired versions (nothing else) of
	// every model, or of the model modelID when it is not "" (none, and no
	// error, for an unknown model).
	Items(ctx context.Context, modelID string) ([]Item, error)
	// Description returns a version's decoded description.
	Description(ctx context.Context, v *zoo.Version) (*spec.Model, error)
}

// Options configure the feeds.
type Options struct {
	// Base is the public base URL ("https://zoo.example.org"); "" means
	// each request's scheme and host.
	Base string
	// Title of the instance feed; "" means "zoo at HOST".
	Title string
	// DOI, if set, returns a version's DOI ("" if none); entries then link
	// to https://doi.org/DOI with rel="related".
	DOI func(ctx context.Context, v *zoo.Version) string
}

// Handler serves the feeds.
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

// Routes are the feed routes, to mount through web.Options.Routes.
func (h *Handler) Routes() []web.Route {
	return []web.Route{
		{Pattern: "GET /feed.atom", Handler: http.HandlerFunc(h.ServeInstance)},
		{Pattern: "GET /models/{id}/feed.atom", Handler: http.HandlerFunc(h.ServeModel)},
	}
}

// described is what a version's description contributes (immutable once
// published).
type described struct {
	name, description, license string
	tags                       []string // as written, cleaned, de-duplicated
	lower                      []string // lower-cased, for matching
	authors                    []Person
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
	d = &described{name: clean(v.Name, maxName), description: clean(v.Description, maxSummary)}
	desc, err := h.src.Description(ctx, v)
	if err == nil && desc != nil {
		d.name = clean(cmp.Or(desc.Name, v.Name), maxName)
		d.description = clean(cmp.Or(desc.Description, v.Description), maxSummary)
		d.license = clean(desc.License, 100)
		for _, t := range desc.Tags {
			t = clean(t, 100)
			l := strings.ToLower(t)
			if t != "" && !contains(d.lower, l) && len(d.tags) < maxCategories {
				d.tags, d.lower = append(d.tags, t), append(d.lower, l)
			}
		}
		for _, a := range desc.Authors {
			if len(d.authors) == maxPeople {
				break
			}
			p := Person{Name: clean(a.Name, 200)}
			if o := clean(a.ORCID, 40); o != "" && printable(o) && !strings.ContainsAny(o, " /?#") {
				p.URI = "https://orcid.org/" + url.PathEscape(o)
			}
			if p.Name != "" {
				d.authors = append(d.authors, p)
			}
		}
	} else {
		// A description that cannot be read now (the blob store is down,
		// the request was cancelled) is not cached: the entry is served
		// from the catalog's fields this once and built again next time.
		return d
	}
	h.mu.Lock()
	if len(h.descs) >= maxCached {
		clear(h.descs)
	}
	h.descs[key] = d
	h.mu.Unlock()
	return d
}

// event is one entry to be: a version published or retired.
type event struct {
	it   Item
	kind string
	at   time.Time
}

func publishedAt(v *zoo.Version) time.Time {
	if v.PublishedAt != nil {
		return v.PublishedAt.UTC()
	}
	return v.CreatedAt.UTC()
}

// events turns items into events, newest first (ties: model id, then
// higher version, then the retirement before the publication).
func events(items []Item) []event {
	out := make([]event, 0, len(items)+len(items)/8)
	for _, it := range items {
		if it.Version == nil || !it.Version.State.Public() {
			continue // a Source must not return these; never show them anyway
		}
		p := publishedAt(it.Version)
		out = append(out, event{it, publishedEvent, p})
		if it.Version.State == zoo.StateRetired {
			r := it.Retired.UTC()
			if r.Before(p) {
				r = p
			}
			out = append(out, event{it, retiredEvent, r})
		}
	}
	slices.SortFunc(out, func(a, b event) int {
		return cmp.Or(b.at.Compare(a.at), strings.Compare(a.it.Version.ModelID, b.it.Version.ModelID),
			cmp.Compare(b.it.Version.Number, a.it.Version.Number), strings.Compare(b.kind, a.kind))
	})
	return out
}

// Build makes the feed of the instance (modelID "") or of one model, for
// the public base URL base. One model with no public version is a NotFound
// error.
func (h *Handler) Build(ctx context.Context, base, modelID string, q Query) (*Feed, time.Time, error) {
	items, err := h.src.Items(ctx, modelID)
	if err != nil {
		return nil, time.Time{}, err
	}
	evs := events(items)
	if modelID != "" && len(evs) == 0 {
		return nil, time.Time{}, zoo.E("feed.Build", zoo.NotFound, nil, "no model %q with a published version", clean(modelID, 80))
	}
	host := hostOf(base)
	f := &Feed{Generator: "zoo", Links: []Link{}, Entries: []Entry{}}
	self := base + "/feed.atom"
	if modelID != "" {
		self = base + "/models/" + url.PathEscape(modelID) + "/feed.atom"
	}
	f.ID = self + q.canonical(false)
	// The alternate link (the page) is inserted before self below: readers
	// that take the first link as the page must not get the feed.
	f.Links = append(f.Links, Link{Rel: "self", Type: "application/atom+xml", Href: self + q.canonical(true)})
	f.Authors = []Person{{Name: "zoo at " + host, URI: base + "/"}}
	var newest time.Time
	for _, e := range evs {
		if len(f.Entries) == q.Limit {
			break
		}
		typ := cmp.Or(e.it.Type, "model")
		if q.Type != "" && typ != q.Type {
			continue
		}
		d := h.described(ctx, e.it.Version)
		if !hasAll(d.lower, q.Tags) {
			continue
		}
		f.Entries = append(f.Entries, h.entry(ctx, base, host, e, typ, d))
		if e.at.After(newest) {
			newest = e.at
		}
	}
	if modelID == "" {
		f.Title = cmp.Or(clean(h.opts.Title, maxName), "zoo at "+host) + " — new versions"
		f.Links = slices.Insert(f.Links, 0, Link{Rel: "alternate", Type: "text/html", Href: base + "/"})
	} else {
		name := modelID
		if len(evs) > 0 {
			name = cmp.Or(h.described(ctx, evs[0].it.Version).name, modelID)
		}
		f.Title = name + " — versions"
		f.Links = slices.Insert(f.Links, 0, Link{Rel: "alternate", Type: "text/html", Href: base + "/models/" + url.PathEscape(modelID)})
	}
	if q.Type != "" || len(q.Tags) > 0 {
		var parts []string
		if q.Type != "" {
			parts = append(parts, "type "+q.Type)
		}
		for _, t := range q.Tags {
			parts = append(parts, "tag "+t)
		}
		f.Subtitle = "Only " + strings.Join(parts, ", ")
	}
	f.Updated = stamp(newest)
	return f, newest, nil
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !contains(have, w) {
			return false
		}
	}
	return true
}

// entry makes one event's entry.
func (h *Handler) entry(ctx context.Context, base, host string, e event, typ string, d *described) Entry {
	v := e.it.Version
	id, n := url.PathEscape(v.ModelID), strconv.Itoa(v.Number)
	pub := publishedAt(v)
	name := cmp.Or(d.name, v.ModelID)
	en := Entry{
		ID:        "tag:" + host + "," + pub.Format(time.DateOnly) + ":zoo/model/" + id + "/" + n + "/" + e.kind,
		Title:     name + " — version " + n + " " + e.kind,
		Updated:   stamp(e.at),
		Published: stamp(pub),
		Links: []Link{
			{Rel: "alternate", Type: "text/html", Href: base + "/models/" + id + "/" + n},
			{Rel: "enclosure", Type: "application/zip", Href: base + "/packages/" + id + "/" + n, Length: v.PackageSize},
		},
		Summary: d.description,
		Authors: slices.Clone(d.authors),
		Rights:  d.license,
	}
	if e.kind == retiredEvent {
		en.Summary = strings.TrimSpace("Retired: " + clean(v.RetiredReason, 1000) + "\n\n" + d.description)
	}
	if h.opts.DOI != nil {
		if doi := clean(h.opts.DOI(ctx, v), 300); strings.HasPrefix(doi, "10.") {
			u := url.URL{Scheme: "https", Host: "doi.org", Path: "/" + doi}
			en.Links = append(en.Links, Link{Rel: "related", Href: u.String(), Title: "DOI " + doi})
		}
	}
	en.Categories = append(en.Categories, Category{Term: clean(typ, MaxType), Scheme: base + "/feed.atom?type=", Label: "type"})
	for _, t := range d.tags {
		en.Categories = append(en.Categories, Category{Term: t, Scheme: base + "/feed.atom?tag="})
	}
	return en
}

func stamp(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0) // an empty feed: Atom requires a date
	}
	return t.UTC().Format(time.RFC3339)
}

// hostOf is the lower-cased host name (no port) of a base URL, the tag
// URIs' authority.
func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return strings.ToLower(u.Hostname())
}

// base is the public base URL for a request (see web.BaseURL).
func (h *Handler) base(r *http.Request) string { return web.BaseURL(r, h.opts.Base) }

// ServeInstance serves GET|HEAD /feed.atom.
func (h *Handler) ServeInstance(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "")
}

// ServeModel serves GET|HEAD /models/{id}/feed.atom.
func (h *Handler) ServeModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxModelID || !printable(id) {
		web.Fail(w, r, zoo.E("feed", zoo.NotFound, nil, "no model %q with a published version", clean(id, 80)))
		return
	}
	h.serve(w, r, id)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, modelID string) {
	q, err := ParseQuery(r.URL.RawQuery)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	f, newest, err := h.Build(r.Context(), h.base(r), modelID, q)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", " ")
	if err := enc.Encode(f); err != nil {
		web.Fail(w, r, zoo.E("feed", zoo.Internal, err, "the feed could not be made"))
		return
	}
	buf.WriteByte('\n')
	sum := sha256.Sum256(buf.Bytes())
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", cacheControl)
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Content-Type", ContentType)
	if !newest.IsZero() {
		hdr.Set("Last-Modified", newest.UTC().Format(http.TimeFormat))
	}
	if notModified(r, etag, newest) {
		hdr.Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// notModified applies If-None-Match, else If-Modified-Since (RFC 9110
// §13.2.2: the date is ignored when an entity tag is given).
func notModified(r *http.Request, etag string, newest time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || newest.IsZero() {
		return false
	}
	t, err := http.ParseTime(ims)
	return err == nil && !newest.Truncate(time.Second).After(t)
}
