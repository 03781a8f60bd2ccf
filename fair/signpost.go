package fair

import (
	"strings"
)

// Signposting returns the value of a Link header (RFC 8288) with the
// signposting.org level 1 relations of the version's landing page and
// metadata routes:
//
//   - cite-as: CiteAs (the DOI URL once minted);
//   - describedby: the DataCite XML (application/vnd.datacite.datacite+xml)
//     and JSON-LD (application/ld+json) routes under APIURL;
//   - type: the schema.org type and https://schema.org/AboutPage;
//   - item: the package zip (application/zip) and each weights file
//     (application/octet-stream), at most MaxLinkItems in all;
//   - license: the SPDX URL (only for an SPDX id);
//   - author: the authors' ORCID URLs (only valid ORCIDs), at most
//     MaxLinkAuthors.
//
// Every target is a URL built here (escaped paths) or checked by syntax
// (DOI, ORCID, SPDX), so no description text can end a link or inject a
// header.
func Signposting(r Record) string {
	if r.check("fair.Signposting") != nil {
		return ""
	}
	var links []string
	add := func(target, rel, typ string) {
		l := "<" + target + `>; rel="` + rel + `"`
		if typ != "" {
			l += `; type="` + typ + `"`
		}
		links = append(links, l)
	}
	st, _, _ := r.kind()
	add(r.CiteAs(), "cite-as", "")
	add(r.APIURL()+"/datacite.xml", "describedby", "application/vnd.datacite.datacite+xml")
	add(r.APIURL()+"/jsonld", "describedby", "application/ld+json")
	add("https://schema.org/"+st, "type", "")
	add("https://schema.org/AboutPage", "type", "")
	add(r.PackageURL(), "item", "application/zip")
	items := 1
	for _, w := range r.weights() {
		if items == MaxLinkItems {
			break
		}
		add(r.FileURL(w.Path), "item", "application/octet-stream")
		items++
	}
	if _, u := r.license(); u != "" {
		add(u, "license", "")
	}
	n := 0
	for _, p := range r.authors() {
		if n == MaxLinkAuthors {
			break
		}
		if u := p.orcidURL(); u != "" {
			add(u, "author", "")
			n++
		}
	}
	return strings.Join(links, ", ")
}
