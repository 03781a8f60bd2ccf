package fair

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// BibTeX returns a @misc entry (understood by BibTeX and biblatex alike)
// with key "ID_vN" (characters other than letters, digits, '-' and '_'
// dropped), author ("Family, Given and …"), title, year, month,
// publisher, version, doi and url (the CiteAs URL), keywords and note.
//
// Escaping: every field is braced; backslash, braces and the LaTeX
// specials # $ % & _ ^ ~ are written as LaTeX commands whose braces are
// balanced (\textbackslash{}, \textbraceleft{}, \{…), so no value can end
// its field or entry early; a name that contains " and " is braced so it
// stays one author.
func BibTeX(r Record) string {
	if r.check("fair.BibTeX") != nil {
		return ""
	}
	var b strings.Builder
	key := keyRe.ReplaceAllString(r.Version.ModelID, "") + "_v" + r.versionString()
	b.WriteString("@misc{" + key + ",\n")
	field := func(name, value string) {
		if value != "" {
			b.WriteString("  " + name + " = {" + value + "},\n")
		}
	}
	var names []string
	for _, p := range r.authors() {
		n := texEscape(p.creatorName())
		if hasWordAnd(p.creatorName()) {
			n = "{" + n + "}"
		}
		names = append(names, n)
	}
	field("author", strings.Join(names, " and "))
	field("title", "{"+texEscape(r.title())+"}")
	field("year", r.versionYear())
	b.WriteString("  month = " + strings.ToLower(r.published().Format("Jan")) + ",\n") // the standard macro
	field("publisher", texEscape(r.publisher()))
	field("version", r.versionString())
	if d := normDOI(r.DOI); d != "" {
		field("doi", verbatim(d))
	}
	field("url", verbatim(r.CiteAs()))
	field("keywords", texEscape(strings.Join(r.keywords(), ", ")))
	if id, _ := r.license(); id != "" {
		field("note", "License: "+texEscape(id))
	}
	s := b.String()
	return strings.TrimSuffix(s, ",\n") + "\n}\n"
}

func (r Record) versionYear() string { return strconv.Itoa(r.year()) }

var keyRe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

var texReplacer = strings.NewReplacer(
	`\`, `\textbackslash{}`,
	`{`, `\textbraceleft{}`,
	`}`, `\textbraceright{}`,
	`#`, `\#`, `$`, `\$`, `%`, `\%`, `&`, `\&`, `_`, `\_`,
	`^`, `\textasciicircum{}`, `~`, `\textasciitilde{}`,
	`@`, `{@}`,
)

// verbatim makes a URL or DOI safe in a verbatim field (url, doi): braces
// and backslashes, the only characters that could break the field, are
// percent-encoded; nothing else is escaped, so the URL stays usable.
func verbatim(s string) string { return urlReplacer.Replace(s) }

var urlReplacer = strings.NewReplacer(`{`, `%7B`, `}`, `%7D`, `\`, `%5C`)

// texEscape makes cleaned text safe inside a braced BibTeX field.
func texEscape(s string) string { return texReplacer.Replace(s) }

// CFF returns a CITATION.cff (Citation File Format 1.2.0): the required
// cff-version, message, title and authors (persons with family-names,
// given-names, orcid and affiliation, or entities with a name; "(:unav)"
// when the description names none), and type, version, doi,
// date-released, url, repository-code, license (SPDX ids only), keywords,
// abstract, identifiers and references (the cite entries). It is written
// by a YAML encoder, so any text is quoted as YAML needs.
func CFF(r Record) string {
	if r.check("fair.CFF") != nil {
		return ""
	}
	type cffAuthor struct {
		Family      string `yaml:"family-names,omitempty"`
		Given       string `yaml:"given-names,omitempty"`
		Name        string `yaml:"name,omitempty"`
		ORCID       string `yaml:"orcid,omitempty"`
		Affiliation string `yaml:"affiliation,omitempty"`
	}
	type cffID struct {
		Type        string `yaml:"type"`
		Value       string `yaml:"value"`
		Description string `yaml:"description,omitempty"`
	}
	type cffRef struct {
		Type    string      `yaml:"type"`
		Title   string      `yaml:"title"`
		Authors []cffAuthor `yaml:"authors"`
		DOI     string      `yaml:"doi,omitempty"`
		URL     string      `yaml:"url,omitempty"`
	}
	type cff struct {
		CFFVersion  string      `yaml:"cff-version"`
		Message     string      `yaml:"message"`
		Type        string      `yaml:"type"`
		Title       string      `yaml:"title"`
		Authors     []cffAuthor `yaml:"authors"`
		Version     string      `yaml:"version"`
		DOI         string      `yaml:"doi,omitempty"`
		Date        string      `yaml:"date-released"`
		URL         string      `yaml:"url"`
		Repository  string      `yaml:"repository-code,omitempty"`
		License     string      `yaml:"license,omitempty"`
		Keywords    []string    `yaml:"keywords,omitempty"`
		Abstract    string      `yaml:"abstract,omitempty"`
		Identifiers []cffID     `yaml:"identifiers"`
		References  []cffRef    `yaml:"references,omitempty"`
	}
	st, _, _ := r.kind()
	c := cff{
		CFFVersion: "1.2.0",
		Message:    "If you use this " + r.noun() + " in your work, please cite it using these metadata.",
		Type:       "software",
		Title:      r.title(),
		Version:    r.versionString(),
		DOI:        normDOI(r.DOI),
		Date:       date(r.published()),
		URL:        r.LandingURL(),
		Repository: httpURL(r.desc().GitRepo),
		Keywords:   r.keywords(),
		Abstract:   r.abstract(),
	}
	if st == "Dataset" {
		c.Type = "dataset"
	}
	for _, p := range r.authors() {
		a := cffAuthor{Family: p.Family, Given: p.Given, ORCID: p.orcidURL(), Affiliation: p.Affiliation}
		if p.Family == "" {
			a.Name = p.Name
		}
		c.Authors = append(c.Authors, a)
	}
	if len(c.Authors) == 0 {
		c.Authors = []cffAuthor{{Name: "(:unav)"}}
	}
	if id, u := r.license(); u != "" {
		c.License = id
	}
	if c.DOI != "" {
		c.Identifiers = append(c.Identifiers, cffID{"doi", c.DOI, "The version's DOI"})
	}
	c.Identifiers = append(c.Identifiers, cffID{"url", r.LandingURL(), "The version's landing page"}, cffID{"url", r.PackageURL(), "The version's package (zip)"})
	for _, ref := range r.refs() {
		title := ref.Text
		if title == "" {
			title = ref.DOI + ref.URL
		}
		c.References = append(c.References, cffRef{Type: "generic", Title: title, Authors: []cffAuthor{{Name: "(:unav)"}}, DOI: ref.DOI, URL: ref.URL})
	}
	out, err := yaml.Marshal(c)
	if err != nil { // cannot happen for these types
		return ""
	}
	return "# This CITATION.cff file was generated by zoo from the model's description.\n" + string(out)
}

// RIS returns a RIS record: TY (COMP for software and models, DATA for
// datasets), AU per author, TI, PY, DA, PB, ET (the version), DO, UR, AB,
// KW per tag, N1 (licence), ER. Every value is one cleaned line, so no
// value can start a tag of its own.
func RIS(r Record) string {
	if r.check("fair.RIS") != nil {
		return ""
	}
	var b strings.Builder
	tag := func(t, v string) {
		if v != "" {
			b.WriteString(t + "  - " + v + "\r\n")
		}
	}
	st, _, _ := r.kind()
	ty := "COMP"
	if st == "Dataset" {
		ty = "DATA"
	}
	tag("TY", ty)
	for _, p := range r.authors() {
		tag("AU", p.creatorName())
	}
	tag("TI", r.title())
	tag("PY", r.versionYear())
	tag("DA", r.published().Format("2006/01/02/"))
	tag("PB", r.publisher())
	tag("ET", r.versionString())
	if d := normDOI(r.DOI); d != "" {
		tag("DO", d)
	}
	tag("UR", r.CiteAs())
	tag("AB", r.abstract())
	for _, k := range r.keywords() {
		tag("KW", k)
	}
	if id, _ := r.license(); id != "" {
		tag("N1", "License: "+id)
	}
	b.WriteString("ER  - \r\n")
	return b.String()
}

// noun names the kind of resource in prose.
func (r Record) noun() string {
	switch r.desc().Type {
	case "model", "":
		return "model"
	case "dataset", "application", "notebook":
		return r.desc().Type
	}
	return "resource"
}
