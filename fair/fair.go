// Package fair turns a published model version and its description into
// the metadata that machines read to find, cite and reuse it: schema.org
// JSON-LD, DataCite (kernel-4 XML and REST API JSON), citation files
// (BibTeX, CFF 1.2.0, RIS) and a signposting Link header. Every function is
// pure: the same Record gives the same bytes.
//
// Hostile descriptions. A description is outside input: names, titles and
// tags may hold quotes, braces, newlines, control characters or invalid
// UTF-8. Every text goes through clean (invalid UTF-8 replaced, control
// characters except newline/tab turned into spaces, length capped at
// MaxText runes) and then through the escaping of its format (XML and JSON
// encoders, YAML marshaling, BibTeX brace-safe escapes, RIS one line per
// tag). Lists are capped: at most MaxAuthors creators, MaxKeywords
// keywords, MaxRefs references in any output, and the Link header carries
// at most MaxLinkAuthors authors and MaxLinkItems items. ORCIDs, DOIs and
// SPDX ids are used as identifiers only when they match their syntax;
// otherwise they are dropped (ORCID, DOI) or kept as plain text (licence).
//
// Choices (documented because several standards leave them open):
//   - A model is schema.org SoftwareSourceCode and DataCite
//     resourceTypeGeneral "Model"; a dataset is Dataset/"Dataset"; an
//     application or notebook SoftwareSourceCode/"Software"; anything else
//     CreativeWork/"Other".
//   - The publisher is Record.Publisher, or else the host of Record.Base.
//   - Without a minted DOI the DataCite identifier is the landing URL with
//     identifierType "URL" (kernel-4 requires a DOI to register, so such a
//     record describes but cannot be registered as is); the REST JSON then
//     has no "doi" attribute.
//   - Author names "Given Family" are split at the last space into
//     givenName/familyName ("Family, Given" creator names); a name with a
//     comma is taken as already "Family, Given"; a one-word name, or one
//     with the word "and" (a group), stays whole.
package fair

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Limits applied to every output.
const (
	MaxText        = 20000 // runes per text field (descriptions); titles and names are cut at MaxShort
	MaxShort       = 1000
	MaxAuthors     = 500
	MaxKeywords    = 100
	MaxRefs        = 100
	MaxLinkAuthors = 20
	MaxLinkItems   = 20
)

// Record is what every export needs: the version, its decoded description
// (repo.Service.Description), the public base URL of the instance (e.g.
// "https://zoo.example.org", no trailing slash) and the DOI if minted (""
// otherwise).
type Record struct {
	Version *zoo.Version
	Desc    *spec.Model
	Base    string
	DOI     string
	// Publisher names the publishing instance in DataCite, BibTeX, RIS and
	// JSON-LD; "" means the host of Base.
	Publisher string
}

// LandingURL is Base + "/models/ID/N", the human landing page of the version.
func (r Record) LandingURL() string {
	return strings.TrimRight(r.Base, "/") + "/models/" + url.PathEscape(r.Version.ModelID) + "/" + strconv.Itoa(r.Version.Number)
}

// CiteAs is "https://doi.org/DOI" when a DOI is minted, else LandingURL.
func (r Record) CiteAs() string {
	if d := normDOI(r.DOI); d != "" {
		return "https://doi.org/" + d
	}
	return r.LandingURL()
}

// PackageURL is the version's package zip: Base + "/packages/ID/N".
func (r Record) PackageURL() string {
	return strings.TrimRight(r.Base, "/") + "/packages/" + url.PathEscape(r.Version.ModelID) + "/" + strconv.Itoa(r.Version.Number)
}

// APIURL is the version's API resource; the metadata routes hang below it
// (APIURL + "/datacite.xml", "/jsonld", …).
func (r Record) APIURL() string {
	return strings.TrimRight(r.Base, "/") + "/api/v1/models/" + url.PathEscape(r.Version.ModelID) + "/versions/" + strconv.Itoa(r.Version.Number)
}

// FileURL is the download URL of one file of the version.
func (r Record) FileURL(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimRight(r.Base, "/") + "/files/" + url.PathEscape(r.Version.ModelID) + "/" + strconv.Itoa(r.Version.Number) + "/" + strings.Join(segs, "/")
}

// publisher is the publishing instance's name: Publisher, else the host
// name of Base without its port.
func (r Record) publisher() string {
	if p := clean(r.Publisher, MaxShort); p != "" {
		return p
	}
	if u, err := url.Parse(r.Base); err == nil && u.Hostname() != "" {
		return clean(strings.ToLower(u.Hostname()), MaxShort) // no port: a name, not an address
	}
	return "zoo"
}

// desc returns the description or an empty one (a Record without Desc
// still exports what the version record knows).
func (r Record) desc() *spec.Model {
	if r.Desc != nil {
		return r.Desc
	}
	return &spec.Model{Type: "model"}
}

// title is the description's name, else the version's, else its id.
func (r Record) title() string {
	for _, s := range []string{r.desc().Name, r.Version.Name, r.Version.ModelID} {
		if t := clean(s, MaxShort); t != "" {
			return t
		}
	}
	return "untitled"
}

func (r Record) abstract() string {
	for _, s := range []string{r.desc().Description, r.Version.Description} {
		if t := clean(s, MaxText); t != "" {
			return t
		}
	}
	return ""
}

// published is the publication time: PublishedAt, else CreatedAt.
func (r Record) published() time.Time {
	if r.Version.PublishedAt != nil && !r.Version.PublishedAt.IsZero() {
		return r.Version.PublishedAt.UTC()
	}
	return r.Version.CreatedAt.UTC()
}

func (r Record) year() int {
	y := r.published().Year()
	if y < 1000 || y > 9999 {
		return time.Now().UTC().Year()
	}
	return y
}

func (r Record) versionString() string { return strconv.Itoa(r.Version.Number) }

// keywords are the tags, cleaned, de-duplicated and capped.
func (r Record) keywords() []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range r.desc().Tags {
		t = clean(t, MaxShort)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
		if len(out) == MaxKeywords {
			break
		}
	}
	return out
}

// person is a cleaned author.
type person struct {
	Name        string // as written
	Given       string
	Family      string
	ORCID       string // bare 0000-0000-0000-0000, valid syntax only
	Affiliation string
}

// CreatorName is "Family, Given" when split, else Name.
func (p person) creatorName() string {
	if p.Family != "" && p.Given != "" {
		return p.Family + ", " + p.Given
	}
	return p.Name
}

func (p person) orcidURL() string {
	if p.ORCID == "" {
		return ""
	}
	return "https://orcid.org/" + p.ORCID
}

// authors are the description's authors (capped), or its maintainers when
// it names no author.
func (r Record) authors() []person {
	src := r.desc().Authors
	if len(src) == 0 {
		src = r.desc().Maintainers
	}
	var out []person
	for _, a := range src {
		name := a.Name
		if i := strings.Index(name, ";@"); i >= 0 { // older format: "Name;@github_user"
			name = name[:i]
		}
		name = clean(name, MaxShort)
		if name == "" {
			name = clean(a.GitHubUser, MaxShort)
		}
		if name == "" {
			continue
		}
		p := person{Name: name, ORCID: normORCID(a.ORCID), Affiliation: clean(a.Affiliation, MaxShort)}
		if hasWordAnd(name) {
			// "Smith and Sons": a group, kept whole
		} else if i := strings.Index(name, ","); i > 0 {
			p.Family, p.Given = strings.TrimSpace(name[:i]), strings.TrimSpace(name[i+1:])
		} else if i := strings.LastIndex(name, " "); i > 0 {
			p.Given, p.Family = strings.TrimSpace(name[:i]), strings.TrimSpace(name[i+1:])
		}
		out = append(out, p)
		if len(out) == MaxAuthors {
			break
		}
	}
	return out
}

// hasWordAnd reports whether s has the word "and" (which BibTeX would
// take as a separator of names).
func hasWordAnd(s string) bool {
	for _, w := range strings.Fields(s) {
		if strings.EqualFold(w, "and") {
			return true
		}
	}
	return false
}

// ref is one cleaned cite entry.
type ref struct {
	Text string
	DOI  string // normalised, valid syntax only
	URL  string // http(s) only
}

func (r Record) refs() []ref {
	var out []ref
	for _, c := range r.desc().Cite {
		x := ref{Text: clean(c.Text, MaxShort), DOI: normDOI(c.DOI), URL: httpURL(c.URL)}
		if x.Text == "" && x.DOI == "" && x.URL == "" {
			continue
		}
		out = append(out, x)
		if len(out) == MaxRefs {
			break
		}
	}
	return out
}

// license is the SPDX id (when it looks like one) and a URL for it.
func (r Record) license() (id, u string) {
	l := clean(r.desc().License, MaxShort)
	if l == "" {
		return "", ""
	}
	if spdxRe().MatchString(l) {
		return l, "https://spdx.org/licenses/" + l
	}
	return l, ""
}

// weightFile is one weights file stored in the version.
type weightFile struct {
	Format string
	Path   string
	Size   int64
}

// weights are the weight files present in the version, in the format's
// order; remote sources (URLs) are not items of the version.
func (r Record) weights() []weightFile {
	d := r.desc()
	var out []weightFile
	for _, f := range d.Weights.Formats() {
		e := d.Weights.Get(f)
		for _, vf := range r.Version.Files {
			if vf.Path == e.Source {
				out = append(out, weightFile{f, vf.Path, vf.Size})
				break
			}
		}
	}
	return out
}

// kind maps the description type to schema.org and DataCite types.
func (r Record) kind() (schemaType, resourceTypeGeneral, resourceType string) {
	switch r.desc().Type {
	case "model", "":
		return "SoftwareSourceCode", "Model", "bioimage.io model (trained deep-learning model)"
	case "dataset":
		return "Dataset", "Dataset", "bioimage.io dataset"
	case "application", "notebook":
		return "SoftwareSourceCode", "Software", "bioimage.io " + r.desc().Type
	}
	return "CreativeWork", "Other", "bioimage.io resource"
}

// The patterns with long counted repetitions are compiled on first use:
// compiling them costs a noticeable part of every zoo command's start-up.
var (
	spdxRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+-]{0,99}$`) })
	orcidRe = regexp.MustCompile(`^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$`)
	doiRe   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^10\.[0-9]{4,9}(\.[0-9]+)*/[A-Za-z0-9:/_;\-.()\[\]]{1,300}$`)
	})
)

// normORCID returns the bare ORCID iD of s ("0000-0002-…", with or without
// the https://orcid.org/ prefix) or "" if it is not one.
func normORCID(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"https://orcid.org/", "http://orcid.org/", "orcid.org/"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.ToUpper(s)
	if !orcidRe.MatchString(s) {
		return ""
	}
	return s
}

// NormDOI returns the bare DOI of s ("10.…/…", with or without a
// doi.org prefix or "doi:") or "" if it is not one.
func NormDOI(s string) string { return normDOI(s) }

func normDOI(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:", "DOI:"} {
		s = strings.TrimPrefix(s, p)
	}
	if !doiRe().MatchString(s) {
		return ""
	}
	return s
}

// httpURL returns s if it is an absolute http(s) URL without spaces or
// characters that break Link headers and RIS lines, else "".
func httpURL(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 || strings.ContainsAny(s, " <>\"\n\r\t\\{}|^`") || !utf8.ValidString(s) {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

// clean makes s safe one-line text: valid UTF-8, every run of white space
// and control characters one space, trimmed, at most max runes.
func clean(s string, max int) string {
	if s == "" {
		return ""
	}
	if len(s) > 4*max+16 {
		s = s[:4*max+16]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	space := false
	for _, c := range s {
		if unicode.IsControl(c) || unicode.IsSpace(c) || c == '\u2028' || c == '\u2029' || c == '\uFEFF' {
			space = true
			continue
		}
		if unicode.Is(unicode.Cs, c) || c == '\uFFFE' || c == '\uFFFF' {
			c = '\uFFFD'
		}
		if space && b.Len() > 0 {
			if n+1 >= max {
				break
			}
			b.WriteByte(' ')
			n++
		}
		space = false
		if n >= max {
			break
		}
		b.WriteRune(c)
		n++
	}
	return b.String()
}

// date formats t as YYYY-MM-DD.
func date(t time.Time) string { return t.UTC().Format("2006-01-02") }

// check reports a Record that cannot be exported at all.
func (r Record) check(op string) error {
	if r.Version == nil {
		return zoo.E(op, zoo.Invalid, nil, "no version to describe")
	}
	if r.Version.ModelID == "" || r.Version.Number <= 0 {
		return zoo.E(op, zoo.Invalid, nil, "the version has no id or number")
	}
	return nil
}
