package oai

import (
	"bytes"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/spec"
)

// Limits on what one oai_dc record carries.
const (
	maxText    = 20000 // runes of the description
	maxShort   = 1000  // runes of titles, names, tags
	maxRepeats = 100   // creators, subjects, relations
)

// oaiRepoID is the oai-identifier scheme's repositoryIdentifier syntax.
var oaiRepoID = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+$`)

// cut caps s at n runes, dropping invalid UTF-8.
func cut(s string, n int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

func (c *call) record4(v *zoo.Version, d *spec.Model) fair.Record {
	r := fair.Record{Version: v, Desc: d, Base: c.base, Publisher: c.h.opts.Publisher}
	if c.h.opts.DOI != nil {
		r.DOI = c.h.opts.DOI(c.ctx, v)
	}
	return r
}

// landing is the version's human page.
func (c *call) landing(v *zoo.Version) string {
	return c.base + "/models/" + url.PathEscape(v.ModelID) + "/" + strconv.Itoa(v.Number)
}

// dublinCore writes the oai_dc record: title, creators, subjects (tags),
// description (with the retirement notice first), publisher, date of
// publication, DCMI type, format, identifiers (landing page, package, DOI),
// relations (cited DOIs and URLs, git repository) and rights (licence).
func (c *call) dublinCore(it Item) {
	v, d := it.Version, c.desc(it)
	if d == nil {
		d = &spec.Model{Type: it.Type}
	}
	b := &c.body
	b.WriteString(`<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd">`)
	dc := func(name, value string, n int) {
		if value = cut(value, n); value != "" {
			elem(b, "dc:"+name, value)
		}
	}
	dc("title", firstNonEmpty(d.Name, v.Name, v.ModelID), maxShort)
	for i, a := range d.Authors {
		if i == maxRepeats {
			break
		}
		dc("creator", a.Name, maxShort)
	}
	for i, t := range d.Tags {
		if i == maxRepeats {
			break
		}
		dc("subject", t, maxShort)
	}
	if v.State == zoo.StateRetired {
		dc("description", "Retired: "+firstNonEmpty(v.RetiredReason, "no reason given"), maxShort)
	}
	dc("description", firstNonEmpty(d.Description, v.Description), maxText)
	publisher := c.h.opts.Publisher
	if publisher == "" {
		publisher = c.host
	}
	dc("publisher", publisher, maxShort)
	for i, m := range d.Maintainers {
		if i == maxRepeats {
			break
		}
		dc("contributor", m.Name, maxShort)
	}
	pub := v.CreatedAt
	if v.PublishedAt != nil {
		pub = *v.PublishedAt
	}
	dc("date", pub.UTC().Format(dayLayout), maxShort)
	switch it.Type {
	case "dataset":
		dc("type", "Dataset", maxShort)
	default:
		dc("type", "Software", maxShort)
	}
	dc("type", "bioimage.io "+firstNonEmpty(it.Type, "model"), maxShort)
	dc("format", "application/zip", maxShort)
	dc("identifier", c.landing(v), maxShort)
	r := c.record4(v, d)
	dc("identifier", r.PackageURL(), maxShort)
	if doi := fair.NormDOI(r.DOI); doi != "" {
		dc("identifier", "https://doi.org/"+doi, maxShort)
	}
	for i, ce := range d.Cite {
		if i == maxRepeats {
			break
		}
		switch {
		case fair.NormDOI(ce.DOI) != "":
			dc("relation", "https://doi.org/"+fair.NormDOI(ce.DOI), maxShort)
		case ce.URL != "":
			dc("relation", ce.URL, maxShort)
		}
	}
	dc("relation", d.GitRepo, maxShort)
	dc("rights", d.License, maxShort)
	b.WriteString("</oai_dc:dc>")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// dataCite writes the oai_datacite record: the OAI-DataCite 1.1 envelope
// (schemaVersion 4, datacentreSymbol the publisher; 1.1 has no
// isReferenceQuality, which was OAI-DataCite 1.0's) around
// fair.DataCiteXML's resource.
func (c *call) dataCite(it Item) error {
	r := c.record4(it.Version, c.desc(it))
	x, err := fair.DataCiteXML(r)
	if err != nil {
		return zoo.E("oai.dataCite", zoo.Internal, err, "the DataCite record of %s/%d could not be made", it.Version.ModelID, it.Version.Number)
	}
	if i := bytes.Index(x, []byte("?>")); bytes.HasPrefix(x, []byte("<?xml")) && i >= 0 {
		x = x[i+2:]
	}
	b := &c.body
	b.WriteString(`<oai_datacite xmlns="http://schema.datacite.org/oai/oai-1.1/" xsi:schemaLocation="http://schema.datacite.org/oai/oai-1.1/ http://schema.datacite.org/oai/oai-1.1/oai.xsd">`)
	elem(b, "schemaVersion", "4")
	publisher := c.h.opts.Publisher
	if publisher == "" {
		publisher = c.host
	}
	elem(b, "datacentreSymbol", cut(publisher, maxShort))
	b.WriteString("<payload>")
	b.Write(bytes.TrimSpace(x))
	b.WriteString("</payload></oai_datacite>")
	return nil
}
