// Package oai is the OAI-PMH 2.0 endpoint (/oai) through which harvesters
// (OpenAIRE, EOSC, BASE, DataCite's harvesters) collect the metadata of
// every published model version.
//
// Records. A record is one published or retired version, identified as
// "oai:HOST:ID/N" (HOST is the host name of the public base URL, ID the
// model id, N the version number). Drafts, submitted, changes-requested and
// rejected versions never appear: Source.Items returns only published and
// retired versions, and the handler checks the state again.
//
// Datestamps are the publication time, or the retirement time for a retired
// version (its record changed then), at seconds granularity
// (YYYY-MM-DDThh:mm:ssZ); from and until accept day or seconds granularity.
//
// Deleted records: none (deletedRecord "no"). zoo never deletes a published
// version. A retired version stays a normal record, because it still
// resolves and its citations must keep working; its oai_dc description
// starts with "Retired: <reason>", and its datestamp moves to the retirement
// time, so incremental harvests pick the change up.
//
// Formats: oai_dc (Dublin Core, written here) and oai_datacite (the
// DataCite kernel-4 resource of fair.DataCiteXML in the OAI-DataCite 1.1
// envelope). Both are available for every record.
//
// Sets: "type" with "type:<resource type>" (e.g. type:model) and "tag" with
// "tag:<tag>" (e.g. tag:segmentation). A tag whose characters fall outside
// the protocol's setSpec syntax (e.g. one with a space) is not offered as a
// set. Asking for "type" or "tag" selects records in any of their children.
//
// Lists come in pages of Options.PageSize with stateless resumption tokens
// (see token); ListSets answers in one page.
//
// Errors: every error condition of the protocol is answered with its code.
// Two never occur here, by the protocol's own definitions: noSetHierarchy
// (this repository supports sets) and noMetadataFormats (every record is
// available in both formats; an unknown identifier is idDoesNotExist).
// Failures of the catalog itself are not protocol errors: they are answered
// as problem details (web.Fail) with a 5xx status.
package oai

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// Options configure the endpoint.
type Options struct {
	// Base is the public base URL of the instance ("https://zoo.example.org",
	// no trailing slash). "" means each request's own scheme and host.
	Base string
	// Name is the repositoryName of Identify; "" means "zoo at HOST".
	Name string
	// AdminEmails are Identify's adminEmail (the protocol requires one);
	// empty means NoAdminEmail, an address that says it is not set
	// rather than one guessed from the host (admin@HOST may reach nobody,
	// or somebody else). zoo serve says at start-up to set
	// ZOO_ADMIN_EMAIL.
	AdminEmails []string
	// Publisher names the instance in the metadata; "" means the host.
	Publisher string
	// Key signs resumption tokens; all replicas must share it. nil means a
	// key derived from the host name (tokens then resist corruption and
	// casual edits, not deliberate forgery, which gains nothing here: all
	// listed data is public).
	Key []byte
	// PageSize is the number of records or identifiers per page (default 100).
	PageSize int
	// TokenTTL is how long a resumption token is accepted (default 24 h).
	TokenTTL time.Duration
	// DOI, if set, returns the DOI minted for a version ("" if none).
	DOI func(ctx context.Context, v *zoo.Version) string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Handler serves /oai (GET and POST).
type Handler struct {
	src  Source
	opts Options
}

// New returns the endpoint over src.
func New(src Source, opts Options) *Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Base = strings.TrimRight(opts.Base, "/")
	return &Handler{src: src, opts: opts}
}

// Formats served.
const (
	PrefixDC       = "oai_dc"
	PrefixDataCite = "oai_datacite"
)

type format struct {
	Prefix, Schema, Namespace string
}

var formats = []format{
	{PrefixDC, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/"},
	{PrefixDataCite, "http://schema.datacite.org/oai/oai-1.1/oai.xsd", "http://schema.datacite.org/oai/oai-1.1/"},
}

func knownPrefix(p string) bool {
	return slices.ContainsFunc(formats, func(f format) bool { return f.Prefix == p })
}

// ServeHTTP answers one protocol request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const op = "oai"
	var raw string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		raw = r.URL.RawQuery
	case http.MethodPost:
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			web.Fail(w, r, zoo.E(op, zoo.Invalid, nil, "send OAI-PMH POST requests as application/x-www-form-urlencoded"))
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxQuery+1))
		if err != nil {
			web.Fail(w, r, zoo.E(op, zoo.Invalid, err, "the request body could not be read"))
			return
		}
		raw = string(b)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		web.Fail(w, r, zoo.E(op, zoo.Invalid, nil, "use GET or POST for OAI-PMH requests"))
		return
	}
	c := &call{h: h, ctx: r.Context(), base: h.base(r), now: h.opts.Now().UTC()}
	c.host = hostOf(c.base)
	var req *request
	var pe *protoError
	if len(raw) > MaxQuery {
		pe = perr(BadArgument, "the request's arguments are longer than %d bytes", MaxQuery)
	} else if q, err := url.ParseQuery(raw); err != nil {
		pe = perr(BadArgument, "the arguments are not a valid query string")
	} else {
		req, pe = parseArgs(q)
	}
	if pe == nil {
		var err error
		pe, err = c.dispatch(req)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
	}
	c.finish(w, req, pe)
}

// base is the public base URL for a request (see web.BaseURL).
func (h *Handler) base(r *http.Request) string { return web.BaseURL(r, h.opts.Base) }

// hostOf is the host name (no port) of a base URL.
// NoAdminEmail is Identify's adminEmail when none is configured: in RFC
// 2606's reserved top-level domain .invalid, so that it is never
// delivered, and dotted, as OAI-PMH.xsd's emailType wants.
const NoAdminEmail = "not-configured@zoo.invalid"

func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return strings.ToLower(u.Hostname())
}

// call is one request being answered; body collects the verb's element.
type call struct {
	h    *Handler
	ctx  context.Context
	base string
	host string
	now  time.Time
	body bytes.Buffer
	// descs memoises descriptions for this request.
	descs map[*zoo.Version]*spec.Model
}

func (c *call) dispatch(req *request) (*protoError, error) {
	switch req.Verb {
	case verbIdentify:
		return c.identify()
	case verbListMetadataFormats:
		return c.listMetadataFormats(req)
	case verbListSets:
		return c.listSets(req)
	case verbGetRecord:
		return c.getRecord(req)
	default: // ListIdentifiers, ListRecords
		return c.list(req)
	}
}

// finish writes the envelope around the verb's element or the error.
func (c *call) finish(w http.ResponseWriter, req *request, pe *protoError) {
	var out bytes.Buffer
	out.WriteString(xml.Header)
	out.WriteString(`<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">`)
	out.WriteString("<responseDate>" + c.now.Format(secondsLayout) + "</responseDate>")
	out.WriteString("<request")
	// The request's attributes are echoed only when the verb and its
	// arguments are valid (protocol §3.2).
	if req != nil && (pe == nil || (pe.Code != BadVerb && pe.Code != BadArgument)) {
		attr(&out, "verb", req.Verb)
		keys := make([]string, 0, len(req.Args))
		for k := range req.Args {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			attr(&out, k, req.Args[k])
		}
	}
	out.WriteString(">")
	text(&out, c.base+"/oai")
	out.WriteString("</request>")
	if pe != nil {
		out.WriteString(`<error code="` + pe.Code + `">`)
		text(&out, pe.Msg)
		out.WriteString("</error>")
	} else {
		out.Write(c.body.Bytes())
	}
	out.WriteString("</OAI-PMH>\n")
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(out.Bytes())
}

// text writes s escaped as XML character data (characters XML cannot
// carry become U+FFFD).
func text(b *bytes.Buffer, s string) { xml.EscapeText(b, []byte(s)) }

func attr(b *bytes.Buffer, name, value string) {
	b.WriteString(" " + name + `="`)
	text(b, value)
	b.WriteString(`"`)
}

func elem(b *bytes.Buffer, name, value string) {
	b.WriteString("<" + name + ">")
	text(b, value)
	b.WriteString("</" + name + ">")
}

func (c *call) identify() (*protoError, error) {
	items, err := c.items()
	if err != nil {
		return nil, err
	}
	earliest := c.now
	for _, it := range items {
		if it.Datestamp.Before(earliest) {
			earliest = it.Datestamp
		}
	}
	name := c.h.opts.Name
	if name == "" {
		name = "zoo at " + c.host
	}
	emails := c.h.opts.AdminEmails
	if len(emails) == 0 {
		emails = []string{NoAdminEmail}
	}
	b := &c.body
	b.WriteString("<Identify>")
	elem(b, "repositoryName", name)
	elem(b, "baseURL", c.base+"/oai")
	elem(b, "protocolVersion", "2.0")
	for _, e := range emails {
		elem(b, "adminEmail", e)
	}
	elem(b, "earliestDatestamp", earliest.UTC().Format(secondsLayout))
	elem(b, "deletedRecord", "no")
	elem(b, "granularity", "YYYY-MM-DDThh:mm:ssZ")
	if oaiRepoID.MatchString(c.host) {
		b.WriteString(`<description><oai-identifier xmlns="http://www.openarchives.org/OAI/2.0/oai-identifier" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai-identifier http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">`)
		elem(b, "scheme", "oai")
		elem(b, "repositoryIdentifier", c.host)
		elem(b, "delimiter", ":")
		elem(b, "sampleIdentifier", "oai:"+c.host+":affable-shark/1")
		b.WriteString("</oai-identifier></description>")
	}
	b.WriteString("</Identify>")
	return nil, nil
}

func (c *call) listMetadataFormats(req *request) (*protoError, error) {
	if req.Identifier != "" {
		if _, pe, err := c.item(req.Identifier); pe != nil || err != nil {
			return pe, err
		}
	}
	b := &c.body
	b.WriteString("<ListMetadataFormats>")
	for _, f := range formats {
		b.WriteString("<metadataFormat>")
		elem(b, "metadataPrefix", f.Prefix)
		elem(b, "schema", f.Schema)
		elem(b, "metadataNamespace", f.Namespace)
		b.WriteString("</metadataFormat>")
	}
	b.WriteString("</ListMetadataFormats>")
	return nil, nil
}

func (c *call) listSets(req *request) (*protoError, error) {
	if req.Token != "" {
		return perr(BadResumptionToken, "ListSets answers in one page; this repository issued no token for it"), nil
	}
	items, err := c.items()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, it := range items {
		for _, s := range c.setsOf(it) {
			seen[s] = true
		}
	}
	specs := make([]string, 0, len(seen))
	for s := range seen {
		specs = append(specs, s)
	}
	slices.Sort(specs)
	b := &c.body
	b.WriteString("<ListSets>")
	set := func(spec, name string) {
		b.WriteString("<set>")
		elem(b, "setSpec", spec)
		elem(b, "setName", name)
		b.WriteString("</set>")
	}
	set("type", "Resource types")
	set("tag", "Tags")
	for _, s := range specs {
		kind, v, _ := strings.Cut(s, ":")
		if kind == "type" {
			set(s, "Type: "+v)
		} else {
			set(s, "Tag: "+v)
		}
	}
	b.WriteString("</ListSets>")
	return nil, nil
}

func (c *call) getRecord(req *request) (*protoError, error) {
	if !knownPrefix(req.Prefix) {
		return cannotDisseminate(req.Prefix), nil
	}
	it, pe, err := c.item(req.Identifier)
	if pe != nil || err != nil {
		return pe, err
	}
	c.body.WriteString("<GetRecord>")
	if err := c.record(it, req.Prefix); err != nil {
		return nil, err
	}
	c.body.WriteString("</GetRecord>")
	return nil, nil
}

func cannotDisseminate(prefix string) *protoError {
	return perr(CannotDisseminateFormat, "the metadata format %q is not served here; use oai_dc or oai_datacite (see ListMetadataFormats)", clip(prefix))
}

// item finds the record of an identifier.
func (c *call) item(identifier string) (Item, *protoError, error) {
	id, n, ok := parseIdentifier(identifier, c.host)
	notFound := perr(IDDoesNotExist, "no record has the identifier %q; identifiers look like oai:%s:MODEL-ID/VERSION", clip(identifier), c.host)
	if !ok {
		return Item{}, notFound, nil
	}
	if is, ok := c.h.src.(ItemSource); ok {
		it, err := is.Item(c.ctx, id, n)
		switch {
		case zoo.KindOf(err) == zoo.NotFound:
			return Item{}, notFound, nil
		case err != nil:
			return Item{}, nil, err
		case it.Version == nil || !it.Version.State.Public():
			return Item{}, notFound, nil
		}
		it.Datestamp = it.Datestamp.UTC().Truncate(time.Second)
		return it, nil, nil
	}
	items, err := c.items()
	if err != nil {
		return Item{}, nil, err
	}
	for _, it := range items {
		if it.Version.ModelID == id && it.Version.Number == n {
			return it, nil, nil
		}
	}
	return Item{}, notFound, nil
}

// items returns the published and retired versions (checked again here).
func (c *call) items() ([]Item, error) {
	all, err := c.h.src.Items(c.ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, it := range all {
		if it.Version != nil && it.Version.State.Public() {
			it.Datestamp = it.Datestamp.UTC().Truncate(time.Second)
			out = append(out, it)
		}
	}
	return out, nil
}

// desc returns the item's description, or nil if it cannot be read (the
// record then carries what the version record itself knows).
func (c *call) desc(it Item) *spec.Model {
	if d, ok := c.descs[it.Version]; ok {
		return d
	}
	if c.descs == nil {
		c.descs = map[*zoo.Version]*spec.Model{}
	}
	d, err := c.h.src.Description(c.ctx, it.Version)
	if err != nil {
		d = nil
	}
	c.descs[it.Version] = d
	return d
}

// setsOf returns the leaf set specs of an item.
func (c *call) setsOf(it Item) []string {
	var out []string
	if t := "type:" + it.Type; it.Type != "" && validSetSpec(t) {
		out = append(out, t)
	}
	if d := c.desc(it); d != nil {
		seen := map[string]bool{}
		for _, tag := range d.Tags {
			if s := "tag:" + tag; !seen[s] && validSetSpec(s) {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// inSet reports whether an item is in the set or one of its children.
func (c *call) inSet(it Item, set string) bool {
	if set == "" {
		return true
	}
	if set == "type" || strings.HasPrefix(set, "type:") {
		t := "type:" + it.Type
		return it.Type != "" && (set == "type" || t == set)
	}
	for _, s := range c.setsOf(it) {
		if s == set || strings.HasPrefix(s, set+":") {
			return true
		}
	}
	return false
}

func before(a Item, t int64, id string, n int) bool {
	return cmp.Or(
		cmp.Compare(a.Datestamp.UnixNano(), t),
		cmp.Compare(a.Version.ModelID, id),
		cmp.Compare(a.Version.Number, n)) <= 0
}

// list answers ListIdentifiers and ListRecords.
func (c *call) list(req *request) (*protoError, error) {
	var tok token
	if req.Token != "" {
		var pe *protoError
		if tok, pe = decodeToken(req.Token, req.Verb, c.key(), c.now); pe != nil {
			return pe, nil
		}
		// The token's arguments are checked like a fresh request's.
		req.Prefix, req.Set = tok.Prefix, tok.Set
		if pe := req.setDates(tok.From, tok.Until); pe != nil || !knownPrefix(tok.Prefix) ||
			(tok.Set != "" && !validSetSpec(tok.Set)) {
			return perr(BadResumptionToken, "the resumptionToken's arguments are not valid; start the list again"), nil
		}
	} else if !knownPrefix(req.Prefix) {
		return cannotDisseminate(req.Prefix), nil
	}
	items, err := c.items()
	if err != nil {
		return nil, err
	}
	var match []Item
	for _, it := range items {
		d := it.Datestamp
		if (!req.From.IsZero() && d.Before(req.From)) || (!req.Until.IsZero() && d.After(req.Until)) {
			continue
		}
		if !c.inSet(it, req.Set) {
			continue
		}
		match = append(match, it)
	}
	slices.SortFunc(match, func(a, b Item) int {
		return cmp.Or(a.Datestamp.Compare(b.Datestamp),
			cmp.Compare(a.Version.ModelID, b.Version.ModelID),
			cmp.Compare(a.Version.Number, b.Version.Number))
	})
	if len(match) == 0 {
		return perr(NoRecordsMatch, "no record matches these arguments"), nil
	}
	start := 0
	if req.Token != "" {
		start = len(match)
		for i, it := range match {
			if !before(it, tok.AfterTime, tok.AfterID, tok.AfterN) {
				start = i
				break
			}
		}
		if start == len(match) {
			return perr(NoRecordsMatch, "no records remain after this resumptionToken"), nil
		}
	}
	end := min(start+c.h.opts.PageSize, len(match))
	page := match[start:end]
	el := req.Verb
	c.body.WriteString("<" + el + ">")
	for _, it := range page {
		if el == verbListIdentifiers {
			c.header(it)
			continue
		}
		if err := c.record(it, req.Prefix); err != nil {
			return nil, err
		}
	}
	// The cursor counts the records before this page, as the issuing
	// request saw them; completeListSize is the list's size now.
	cursor := tok.Cursor
	if req.Token == "" {
		cursor = 0
	}
	b := &c.body
	b.WriteString("<resumptionToken")
	attr(b, "completeListSize", strconv.Itoa(cursor+len(match)-start))
	attr(b, "cursor", strconv.Itoa(cursor))
	if end < len(match) {
		last := page[len(page)-1]
		exp := c.now.Add(c.h.opts.TokenTTL).Truncate(time.Second)
		next := token{Verb: req.Verb, Prefix: req.Prefix, Set: req.Set, From: req.RawFrom, Until: req.RawUntil,
			Cursor: cursor + len(page), AfterTime: last.Datestamp.UnixNano(), AfterID: last.Version.ModelID,
			AfterN: last.Version.Number, Expires: exp.Unix()}
		attr(b, "expirationDate", exp.Format(secondsLayout))
		b.WriteString(">")
		text(b, encodeToken(next, c.key()))
		b.WriteString("</resumptionToken>")
	} else {
		b.WriteString("/>")
	}
	c.body.WriteString("</" + el + ">")
	return nil, nil
}

// key is the token signing key.
func (c *call) key() []byte {
	if len(c.h.opts.Key) > 0 {
		return c.h.opts.Key
	}
	sum := sha256.Sum256([]byte("zoo oai resumption token\x00" + c.host))
	return sum[:]
}

// identifier is the record's OAI identifier.
func (c *call) identifier(v *zoo.Version) string {
	return "oai:" + c.host + ":" + v.ModelID + "/" + strconv.Itoa(v.Number)
}

func (c *call) header(it Item) {
	b := &c.body
	b.WriteString("<header>")
	elem(b, "identifier", c.identifier(it.Version))
	elem(b, "datestamp", it.Datestamp.Format(secondsLayout))
	for _, s := range c.setsOf(it) {
		elem(b, "setSpec", s)
	}
	b.WriteString("</header>")
}

func (c *call) record(it Item, prefix string) error {
	c.body.WriteString("<record>")
	c.header(it)
	c.body.WriteString("<metadata>")
	var err error
	switch prefix {
	case PrefixDC:
		c.dublinCore(it)
	case PrefixDataCite:
		err = c.dataCite(it)
	}
	if err != nil {
		return err
	}
	c.body.WriteString("</metadata></record>")
	return nil
}
