package fair

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strconv"
)

// DataCite schema constants.
const (
	DataCiteNamespace      = "http://datacite.org/schema/kernel-4"
	DataCiteSchemaLocation = "http://datacite.org/schema/kernel-4 https://schema.datacite.org/meta/kernel-4.5/metadata.xsd"
)

// ResourceTypesGeneral is the controlled list of DataCite 4.5/4.6
// resourceTypeGeneral values.
var ResourceTypesGeneral = []string{
	"Audiovisual", "Award", "Book", "BookChapter", "Collection", "ComputationalNotebook",
	"ConferencePaper", "ConferenceProceeding", "DataPaper", "Dataset", "Dissertation", "Event",
	"Image", "Instrument", "InteractiveResource", "Journal", "JournalArticle", "Model",
	"OutputManagementPlan", "PeerReview", "PhysicalObject", "Preprint", "Project", "Report",
	"Service", "Software", "Sound", "Standard", "StudyRegistration", "Text", "Workflow", "Other",
}

// Attributes is the "attributes" object of a DataCite REST API "dois"
// resource (JSON:API), the same properties as the kernel-4 XML.
type Attributes struct {
	DOI                string              `json:"doi,omitempty"`
	Prefix             string              `json:"prefix,omitempty"`
	Event              string              `json:"event,omitempty"` // "publish" to make a DOI findable
	Creators           []Creator           `json:"creators"`
	Titles             []Title             `json:"titles"`
	Publisher          string              `json:"publisher"`
	PublicationYear    int                 `json:"publicationYear"`
	Types              Types               `json:"types"`
	URL                string              `json:"url"`
	Subjects           []Subject           `json:"subjects,omitempty"`
	Dates              []Date              `json:"dates,omitempty"`
	Language           string              `json:"language,omitempty"`
	Identifiers        []AltIdentifier     `json:"identifiers,omitempty"`
	RelatedIdentifiers []RelatedIdentifier `json:"relatedIdentifiers,omitempty"`
	Sizes              []string            `json:"sizes,omitempty"`
	Formats            []string            `json:"formats,omitempty"`
	Version            string              `json:"version,omitempty"`
	RightsList         []Rights            `json:"rightsList,omitempty"`
	Descriptions       []Description       `json:"descriptions,omitempty"`
	SchemaVersion      string              `json:"schemaVersion,omitempty"`
}

// Creator is a DataCite creator.
type Creator struct {
	Name            string           `json:"name"`
	NameType        string           `json:"nameType,omitempty"`
	GivenName       string           `json:"givenName,omitempty"`
	FamilyName      string           `json:"familyName,omitempty"`
	NameIdentifiers []NameIdentifier `json:"nameIdentifiers,omitempty"`
	Affiliation     []Affiliation    `json:"affiliation,omitempty"`
}

// NameIdentifier is e.g. an ORCID.
type NameIdentifier struct {
	NameIdentifier       string `json:"nameIdentifier"`
	NameIdentifierScheme string `json:"nameIdentifierScheme"`
	SchemeURI            string `json:"schemeUri,omitempty"`
}

// Affiliation of a creator.
type Affiliation struct {
	Name string `json:"name"`
}

// Title of the resource.
type Title struct {
	Title     string `json:"title"`
	TitleType string `json:"titleType,omitempty"`
}

// Types is the resource type.
type Types struct {
	ResourceTypeGeneral string `json:"resourceTypeGeneral"`
	ResourceType        string `json:"resourceType,omitempty"`
	SchemaOrg           string `json:"schemaOrg,omitempty"`
}

// Subject is a keyword.
type Subject struct {
	Subject string `json:"subject"`
}

// Date is a dated event (Created, Issued, …).
type Date struct {
	Date     string `json:"date"`
	DateType string `json:"dateType"`
}

// AltIdentifier is an identifier other than the DOI.
type AltIdentifier struct {
	Identifier     string `json:"identifier"`
	IdentifierType string `json:"identifierType"`
}

// RelatedIdentifier links another resource.
type RelatedIdentifier struct {
	RelatedIdentifier     string `json:"relatedIdentifier"`
	RelatedIdentifierType string `json:"relatedIdentifierType"`
	RelationType          string `json:"relationType"`
}

// Rights is a licence.
type Rights struct {
	Rights                 string `json:"rights,omitempty"`
	RightsURI              string `json:"rightsUri,omitempty"`
	RightsIdentifier       string `json:"rightsIdentifier,omitempty"`
	RightsIdentifierScheme string `json:"rightsIdentifierScheme,omitempty"`
	SchemeURI              string `json:"schemeUri,omitempty"`
}

// Description is an abstract.
type Description struct {
	Description     string `json:"description"`
	DescriptionType string `json:"descriptionType"`
}

// DataCiteAttributes returns the DataCite properties of the version: the
// mandatory ones (identifier, creators, titles, publisher,
// publicationYear, types) always — a version without authors gets the one
// creator "(:unav)", DataCite's standard value for "unavailable" — and the
// recommended and optional ones where the description has them (subjects
// from tags, dates Created/Issued, relatedIdentifiers References from the
// cite entries' DOIs and URLs and IsSupplementedBy from git_repo, the
// landing URL as alternate identifier, size, format, version, rights with
// the SPDX identifier, the abstract). Event and Prefix are left to the
// caller (package doi).
func DataCiteAttributes(r Record) Attributes {
	st, rtg, rt := r.kind()
	a := Attributes{
		DOI:             normDOI(r.DOI),
		Titles:          []Title{{Title: r.title()}},
		Publisher:       r.publisher(),
		PublicationYear: r.year(),
		Types:           Types{ResourceTypeGeneral: rtg, ResourceType: rt, SchemaOrg: st},
		URL:             r.LandingURL(),
		Language:        "en",
		Identifiers:     []AltIdentifier{{Identifier: r.LandingURL(), IdentifierType: "URL"}},
		Formats:         []string{"application/zip"},
		Version:         r.versionString(),
		SchemaVersion:   DataCiteNamespace,
	}
	for _, p := range r.authors() {
		c := Creator{Name: p.creatorName(), GivenName: p.Given, FamilyName: p.Family}
		if p.Given != "" || p.ORCID != "" {
			c.NameType = "Personal"
		}
		if p.ORCID != "" {
			c.NameIdentifiers = []NameIdentifier{{NameIdentifier: p.orcidURL(), NameIdentifierScheme: "ORCID", SchemeURI: "https://orcid.org"}}
		}
		if p.Affiliation != "" {
			c.Affiliation = []Affiliation{{Name: p.Affiliation}}
		}
		a.Creators = append(a.Creators, c)
	}
	if len(a.Creators) == 0 {
		a.Creators = []Creator{{Name: "(:unav)"}}
	}
	for _, k := range r.keywords() {
		a.Subjects = append(a.Subjects, Subject{Subject: k})
	}
	a.Dates = []Date{{Date: date(r.Version.CreatedAt), DateType: "Created"}}
	if r.Version.PublishedAt != nil {
		a.Dates = append(a.Dates, Date{Date: date(*r.Version.PublishedAt), DateType: "Issued"})
	}
	for _, c := range r.refs() {
		switch {
		case c.DOI != "":
			a.RelatedIdentifiers = append(a.RelatedIdentifiers, RelatedIdentifier{c.DOI, "DOI", "References"})
		case c.URL != "":
			a.RelatedIdentifiers = append(a.RelatedIdentifiers, RelatedIdentifier{c.URL, "URL", "References"})
		}
	}
	if g := httpURL(r.desc().GitRepo); g != "" {
		a.RelatedIdentifiers = append(a.RelatedIdentifiers, RelatedIdentifier{g, "URL", "IsSupplementedBy"})
	}
	if r.Version.PackageSize > 0 {
		a.Sizes = []string{strconv.FormatInt(r.Version.PackageSize, 10) + " bytes"}
	}
	if id, u := r.license(); u != "" {
		a.RightsList = []Rights{{Rights: id, RightsURI: u, RightsIdentifier: id, RightsIdentifierScheme: "SPDX", SchemeURI: "https://spdx.org/licenses/"}}
	} else if id != "" {
		a.RightsList = []Rights{{Rights: id}}
	}
	if d := r.abstract(); d != "" {
		a.Descriptions = []Description{{Description: d, DescriptionType: "Abstract"}}
	}
	return a
}

// DataCiteJSON returns the version as a DataCite REST API document:
// {"data": {"type": "dois", "id": DOI, "attributes": DataCiteAttributes}}
// (the body of POST /dois once Event and Prefix are set; "id" only when a
// DOI is minted).
func DataCiteJSON(r Record) ([]byte, error) {
	if err := r.check("fair.DataCiteJSON"); err != nil {
		return nil, err
	}
	a := DataCiteAttributes(r)
	data := map[string]any{"type": "dois", "attributes": a}
	if a.DOI != "" {
		data["id"] = a.DOI
	}
	return json.MarshalIndent(map[string]any{"data": data}, "", "  ")
}

// The kernel-4 XML document.
type xResource struct {
	XMLName        xml.Name   `xml:"resource"`
	XMLNS          string     `xml:"xmlns,attr"`
	XSI            string     `xml:"xmlns:xsi,attr"`
	SchemaLocation string     `xml:"xsi:schemaLocation,attr"`
	Identifier     xTyped     `xml:"identifier"`
	Creators       []xCreator `xml:"creators>creator"`
	Titles         []string   `xml:"titles>title"`
	Publisher      string     `xml:"publisher"`
	Year           int        `xml:"publicationYear"`
	ResourceType   struct {
		General string `xml:"resourceTypeGeneral,attr"`
		Text    string `xml:",chardata"`
	} `xml:"resourceType"`
	Subjects []string `xml:"subjects>subject,omitempty"`
	Dates    []struct {
		Type string `xml:"dateType,attr"`
		Text string `xml:",chardata"`
	} `xml:"dates>date,omitempty"`
	Language    string    `xml:"language,omitempty"`
	AltIDs      []xAlt    `xml:"alternateIdentifiers>alternateIdentifier,omitempty"`
	RelatedIDs  []xRel    `xml:"relatedIdentifiers>relatedIdentifier,omitempty"`
	Sizes       []string  `xml:"sizes>size,omitempty"`
	Formats     []string  `xml:"formats>format,omitempty"`
	Version     string    `xml:"version,omitempty"`
	Rights      []xRights `xml:"rightsList>rights,omitempty"`
	Description []struct {
		Type string `xml:"descriptionType,attr"`
		Text string `xml:",chardata"`
	} `xml:"descriptions>description,omitempty"`
}

type xTyped struct {
	Type string `xml:"identifierType,attr"`
	Text string `xml:",chardata"`
}

type xAlt struct {
	Type string `xml:"alternateIdentifierType,attr"`
	Text string `xml:",chardata"`
}

type xRel struct {
	Type     string `xml:"relatedIdentifierType,attr"`
	Relation string `xml:"relationType,attr"`
	Text     string `xml:",chardata"`
}

type xRights struct {
	URI        string `xml:"rightsURI,attr,omitempty"`
	Identifier string `xml:"rightsIdentifier,attr,omitempty"`
	Scheme     string `xml:"rightsIdentifierScheme,attr,omitempty"`
	SchemeURI  string `xml:"schemeURI,attr,omitempty"`
	Text       string `xml:",chardata"`
}

type xCreator struct {
	Name struct {
		Type string `xml:"nameType,attr,omitempty"`
		Text string `xml:",chardata"`
	} `xml:"creatorName"`
	Given   string `xml:"givenName,omitempty"`
	Family  string `xml:"familyName,omitempty"`
	NameIDs []struct {
		Scheme    string `xml:"nameIdentifierScheme,attr"`
		SchemeURI string `xml:"schemeURI,attr,omitempty"`
		Text      string `xml:",chardata"`
	} `xml:"nameIdentifier,omitempty"`
	Affiliations []string `xml:"affiliation,omitempty"`
}

// DataCiteXML returns the version as a DataCite Metadata Schema kernel-4
// (4.5) XML document, the same properties as DataCiteAttributes. Without a
// minted DOI the identifier is the landing URL (identifierType "URL").
func DataCiteXML(r Record) ([]byte, error) {
	if err := r.check("fair.DataCiteXML"); err != nil {
		return nil, err
	}
	b, err := dataCiteXML(DataCiteAttributes(r))
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}

// DataCiteResource is DataCiteXML without the XML declaration: the
// <resource> element alone, to embed in another document (e.g. an OAI-PMH
// oai_datacite record).
func DataCiteResource(r Record) ([]byte, error) {
	if err := r.check("fair.DataCiteResource"); err != nil {
		return nil, err
	}
	return dataCiteXML(DataCiteAttributes(r))
}

func dataCiteXML(a Attributes) ([]byte, error) {
	x := xResource{XMLNS: DataCiteNamespace, XSI: "http://www.w3.org/2001/XMLSchema-instance", SchemaLocation: DataCiteSchemaLocation}
	x.Identifier = xTyped{"DOI", a.DOI}
	if a.DOI == "" {
		x.Identifier = xTyped{"URL", a.URL}
	}
	for _, c := range a.Creators {
		var xc xCreator
		xc.Name.Type, xc.Name.Text = c.NameType, c.Name
		xc.Given, xc.Family = c.GivenName, c.FamilyName
		for _, n := range c.NameIdentifiers {
			xc.NameIDs = append(xc.NameIDs, struct {
				Scheme    string `xml:"nameIdentifierScheme,attr"`
				SchemeURI string `xml:"schemeURI,attr,omitempty"`
				Text      string `xml:",chardata"`
			}{n.NameIdentifierScheme, n.SchemeURI, n.NameIdentifier})
		}
		for _, af := range c.Affiliation {
			xc.Affiliations = append(xc.Affiliations, af.Name)
		}
		x.Creators = append(x.Creators, xc)
	}
	for _, t := range a.Titles {
		x.Titles = append(x.Titles, t.Title)
	}
	x.Publisher, x.Year = a.Publisher, a.PublicationYear
	x.ResourceType.General, x.ResourceType.Text = a.Types.ResourceTypeGeneral, a.Types.ResourceType
	for _, s := range a.Subjects {
		x.Subjects = append(x.Subjects, s.Subject)
	}
	for _, d := range a.Dates {
		x.Dates = append(x.Dates, struct {
			Type string `xml:"dateType,attr"`
			Text string `xml:",chardata"`
		}{d.DateType, d.Date})
	}
	x.Language = a.Language
	for _, id := range a.Identifiers {
		if a.DOI == "" && id.Identifier == a.URL {
			continue // already the identifier
		}
		x.AltIDs = append(x.AltIDs, xAlt{id.IdentifierType, id.Identifier})
	}
	for _, rel := range a.RelatedIdentifiers {
		x.RelatedIDs = append(x.RelatedIDs, xRel{rel.RelatedIdentifierType, rel.RelationType, rel.RelatedIdentifier})
	}
	x.Sizes, x.Formats, x.Version = a.Sizes, a.Formats, a.Version
	for _, rt := range a.RightsList {
		x.Rights = append(x.Rights, xRights{rt.RightsURI, rt.RightsIdentifier, rt.RightsIdentifierScheme, rt.SchemeURI, rt.Rights})
	}
	for _, d := range a.Descriptions {
		x.Description = append(x.Description, struct {
			Type string `xml:"descriptionType,attr"`
			Text string `xml:",chardata"`
		}{d.DescriptionType, d.Description})
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(x); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
