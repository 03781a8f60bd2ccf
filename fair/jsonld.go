package fair

import (
	"encoding/json"
	"strconv"
)

type ldThing = map[string]any

// JSONLD returns the schema.org description of the version as JSON-LD (for
// a <script type="application/ld+json"> in the model page and the /jsonld
// route): @type by description type (see the package comment), @id and
// identifier the CiteAs URL (and the DOI as a PropertyValue when minted),
// name, description, version, url (landing page), author (Person with the
// ORCID URL as @id and affiliation), license (SPDX URL, else its text),
// keywords, dateCreated, datePublished, publisher, citation (with DOI
// URLs), codeRepository (SoftwareSourceCode only), the package zip and
// each weights file as DataDownloads with size and format (distribution of
// a Dataset, encoding of a SoftwareSourceCode: the properties schema.org
// defines for each type) and isAccessibleForFree.
// The JSON escapes <, > and & (\u003c …), so it may be put inside a
// <script type="application/ld+json"> element as is.
func JSONLD(r Record) ([]byte, error) {
	if err := r.check("fair.JSONLD"); err != nil {
		return nil, err
	}
	st, _, _ := r.kind()
	doc := ldThing{
		"@context":            "https://schema.org",
		"@type":               st,
		"@id":                 r.CiteAs(),
		"name":                r.title(),
		"version":             r.versionString(),
		"url":                 r.LandingURL(),
		"isAccessibleForFree": true,
		"dateCreated":         r.Version.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		"datePublished":       date(r.published()),
		"publisher":           ldThing{"@type": "Organization", "name": r.publisher()},
	}
	ids := []any{r.CiteAs()}
	if d := normDOI(r.DOI); d != "" {
		ids = append(ids, ldThing{"@type": "PropertyValue", "propertyID": "DOI", "value": d, "url": "https://doi.org/" + d})
		doc["sameAs"] = r.LandingURL()
	}
	doc["identifier"] = ids
	if a := r.abstract(); a != "" {
		doc["description"] = a
	}
	var authors []any
	for _, p := range r.authors() {
		a := ldThing{"@type": "Person", "name": p.Name}
		if p.Given != "" {
			a["givenName"], a["familyName"] = p.Given, p.Family
		}
		if u := p.orcidURL(); u != "" {
			a["@id"] = u
			a["identifier"] = u
		}
		if p.Affiliation != "" {
			a["affiliation"] = ldThing{"@type": "Organization", "name": p.Affiliation}
		}
		authors = append(authors, a)
	}
	if len(authors) > 0 {
		doc["author"] = authors
	}
	if id, u := r.license(); u != "" {
		doc["license"] = u
	} else if id != "" {
		doc["license"] = id
	}
	if k := r.keywords(); len(k) > 0 {
		doc["keywords"] = k
	}
	var cites []any
	for _, c := range r.refs() {
		x := ldThing{"@type": "CreativeWork"}
		if c.Text != "" {
			x["name"] = c.Text
		}
		if c.DOI != "" {
			x["@id"] = "https://doi.org/" + c.DOI
			x["identifier"] = "https://doi.org/" + c.DOI
		}
		if c.URL != "" {
			x["url"] = c.URL
		}
		cites = append(cites, x)
	}
	if len(cites) > 0 {
		doc["citation"] = cites
	}
	if g := httpURL(r.desc().GitRepo); g != "" && st == "SoftwareSourceCode" {
		doc["codeRepository"] = g // a property of SoftwareSourceCode only
	}
	dist := []any{ldThing{
		"@type": "DataDownload", "name": "package (zip)", "contentUrl": r.PackageURL(),
		"encodingFormat": "application/zip", "contentSize": sizeText(r.Version.PackageSize),
	}}
	for _, w := range r.weights() {
		dist = append(dist, ldThing{
			"@type": "DataDownload", "name": w.Format + " weights", "contentUrl": r.FileURL(w.Path),
			"encodingFormat": "application/octet-stream", "contentSize": sizeText(w.Size),
		})
	}
	// schema.org defines distribution for Dataset only; any CreativeWork
	// (SoftwareSourceCode) has encoding, whose range MediaObject includes
	// DataDownload. downloadUrl is SoftwareApplication's, not used.
	if st == "Dataset" {
		doc["distribution"] = dist
	} else {
		doc["encoding"] = dist
	}
	return json.MarshalIndent(doc, "", "  ")
}

func sizeText(n int64) string { return strconv.FormatInt(n, 10) + " B" }
