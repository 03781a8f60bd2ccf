// Package doitest holds the test doubles of package doi: Server, a local
// DataCite REST API that checks every request against the DataCite
// Metadata Schema's rules, and RunStore, the one conformance suite of
// doi.Store that the sqlite and postgres tests run.
package doitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The controlled lists of DataCite Metadata Schema 4.5/4.6, written out
// here from the schema's documentation (independently of package fair, so
// that a mistake there is caught here).
var (
	resourceTypeGeneral = []string{
		"Audiovisual", "Award", "Book", "BookChapter", "Collection", "ComputationalNotebook",
		"ConferencePaper", "ConferenceProceeding", "DataPaper", "Dataset", "Dissertation", "Event",
		"Image", "Instrument", "InteractiveResource", "Journal", "JournalArticle", "Model",
		"OutputManagementPlan", "PeerReview", "PhysicalObject", "Preprint", "Project", "Report",
		"Service", "Software", "Sound", "Standard", "StudyRegistration", "Text", "Workflow", "Other",
	}
	nameTypes       = []string{"Personal", "Organizational"}
	titleTypes      = []string{"AlternativeTitle", "Subtitle", "TranslatedTitle", "Other"}
	dateTypes       = []string{"Accepted", "Available", "Copyrighted", "Collected", "Coverage", "Created", "Issued", "Submitted", "Updated", "Valid", "Withdrawn", "Other"}
	descTypes       = []string{"Abstract", "Methods", "SeriesInformation", "TableOfContents", "TechnicalInfo", "Other"}
	relatedIDTypes  = []string{"ARK", "arXiv", "bibcode", "CSTR", "DOI", "EAN13", "EISSN", "Handle", "IGSN", "ISBN", "ISSN", "ISTC", "LISSN", "LSID", "PMID", "PURL", "RRID", "UPC", "URL", "URN", "w3id"}
	relationTypes   = []string{"IsCitedBy", "Cites", "IsSupplementTo", "IsSupplementedBy", "IsContinuedBy", "Continues", "IsDescribedBy", "Describes", "HasMetadata", "IsMetadataFor", "HasVersion", "IsVersionOf", "IsNewVersionOf", "IsPreviousVersionOf", "IsPartOf", "HasPart", "IsPublishedIn", "IsReferencedBy", "References", "IsDocumentedBy", "Documents", "IsCompiledBy", "Compiles", "IsVariantFormOf", "IsOriginalFormOf", "IsIdenticalTo", "IsReviewedBy", "Reviews", "IsDerivedFrom", "IsSourceOf", "IsRequiredBy", "Requires", "IsObsoletedBy", "Obsoletes", "IsCollectedBy", "Collects", "IsTranslationOf", "HasTranslation"}
	events          = []string{"publish", "register", "hide"}
	dateRe          = regexp.MustCompile(`^[0-9]{4}(-[0-9]{2}(-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?)?)?(/.*)?$`)
	doiRe           = regexp.MustCompile(`^10\.[0-9]{4,9}(\.[0-9]+)*/\S+$`)
	maxRequestBytes = int64(4 << 20)
)

// Record is one DOI the server holds.
type Record struct {
	DOI        string
	State      string // draft, registered, findable
	Attributes map[string]any
	Updates    int // PUTs after the first registration
}

// Server is a local DataCite REST API (POST /dois, PUT /dois/{doi}, GET
// /dois/{doi}) for one repository with one prefix and password. Every
// POST and PUT is checked like DataCite does: JSON:API envelope
// (data.type "dois"), a DOI under the repository's prefix, and — for
// findable DOIs (event "publish") — the schema's mandatory properties
// (url, creators with names, titles, publisher, publicationYear, types
// with a resourceTypeGeneral from the controlled list) and the controlled
// values of the optional ones (nameType, titleType, dateType,
// descriptionType, relatedIdentifierType, relationType, date syntax,
// nameIdentifier schemes). A bad request gets 422 with JSON:API errors;
// every problem found is also kept in Problems for the test to assert on.
type Server struct {
	*httptest.Server
	Repository, Password, Prefix string

	mu       sync.Mutex
	dois     map[string]*Record // by lowercased DOI
	failNext []int              // statuses to answer the next requests with
	requests int
	problems []string
}

// NewServer starts a Server; it is closed when the test ends.
func NewServer(t interface{ Cleanup(func()) }) *Server {
	s := &Server{Repository: "TEST.ZOO", Password: "secret", Prefix: "10.5072", dois: map[string]*Record{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// FailNext makes the next len(statuses) requests answer with these
// statuses (e.g. 500, 503) without doing anything; a status of 0 closes
// the connection without an answer.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, statuses...)
}

// Get returns the record of a DOI, or nil.
func (s *Server) Get(doi string) *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.dois[strings.ToLower(doi)]
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// Len is the number of DOIs held.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.dois)
}

// Requests is the number of requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Problems are the schema problems of every refused request so far.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

type apiError struct {
	Source string `json:"source,omitempty"`
	Title  string `json:"title"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.failNext) > 0 {
		st := s.failNext[0]
		s.failNext = s.failNext[1:]
		if st == 0 {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			st = http.StatusBadGateway
		}
		writeErrors(w, st, apiError{Title: "injected failure " + strconv.Itoa(st)})
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.Repository || pass != s.Password {
		writeErrors(w, http.StatusUnauthorized, apiError{Title: "Bad credentials."})
		return
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/dois")
	switch {
	case r.Method == http.MethodPost && path == "":
		s.upsert(w, r, "")
	case r.Method == http.MethodPut && strings.HasPrefix(path, "/"):
		doi, err := url.PathUnescape(path[1:])
		if err != nil {
			writeErrors(w, http.StatusBadRequest, apiError{Title: "bad DOI in path"})
			return
		}
		s.upsert(w, r, doi)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/"):
		doi, _ := url.PathUnescape(path[1:])
		rec := s.dois[strings.ToLower(doi)]
		if rec == nil {
			writeErrors(w, http.StatusNotFound, apiError{Title: "The resource you are looking for doesn't exist."})
			return
		}
		writeDOI(w, http.StatusOK, rec)
	default:
		writeErrors(w, http.StatusNotFound, apiError{Title: "no such route"})
	}
}

// upsert handles POST /dois (pathDOI "") and PUT /dois/{doi}.
func (s *Server) upsert(w http.ResponseWriter, r *http.Request, pathDOI string) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.api+json") && !strings.HasPrefix(ct, "application/json") {
		s.refuse(w, http.StatusUnsupportedMediaType, apiError{Title: "Content-Type must be application/vnd.api+json, not " + ct})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || int64(len(body)) > maxRequestBytes {
		s.refuse(w, http.StatusRequestEntityTooLarge, apiError{Title: "request too large"})
		return
	}
	var doc struct {
		Data *struct {
			ID         string         `json:"id"`
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Data == nil {
		s.refuse(w, http.StatusBadRequest, apiError{Title: "You need to provide a payload following the JSONAPI spec"})
		return
	}
	if doc.Data.Type != "dois" {
		s.refuse(w, http.StatusUnprocessableEntity, apiError{Source: "type", Title: `data.type must be "dois"`})
		return
	}
	a := doc.Data.Attributes
	if a == nil {
		a = map[string]any{}
	}
	doi, _ := a["doi"].(string)
	if doi == "" {
		doi = doc.Data.ID
	}
	if pathDOI != "" {
		if doi == "" {
			doi = pathDOI
		} else if !strings.EqualFold(doi, pathDOI) {
			s.refuse(w, http.StatusUnprocessableEntity, apiError{Source: "doi", Title: "the DOI in the body differs from the DOI in the path"})
			return
		}
	}
	if doi == "" {
		s.refuse(w, http.StatusUnprocessableEntity, apiError{Source: "doi", Title: "Can't be blank (this server does not draw random suffixes)"})
		return
	}
	if !doiRe.MatchString(doi) || !strings.HasPrefix(strings.ToLower(doi), strings.ToLower(s.Prefix)+"/") {
		s.refuse(w, http.StatusForbidden, apiError{Source: "doi", Title: "DOI " + doi + " is not under the repository's prefix " + s.Prefix})
		return
	}
	key := strings.ToLower(doi)
	existing := s.dois[key]
	if pathDOI == "" && existing != nil {
		s.refuse(w, http.StatusUnprocessableEntity, apiError{Source: "doi", Title: "This DOI has already been taken"})
		return
	}
	event, _ := a["event"].(string)
	if event != "" && !slices.Contains(events, event) {
		s.refuse(w, http.StatusUnprocessableEntity, apiError{Source: "event", Title: "event must be one of publish, register, hide"})
		return
	}
	state := "draft"
	if existing != nil {
		state = existing.State
	}
	switch event {
	case "publish":
		state = "findable"
	case "register":
		state = "registered"
	case "hide":
		state = "registered"
	}
	merged := map[string]any{}
	if existing != nil {
		for k, v := range existing.Attributes {
			merged[k] = v
		}
	}
	for k, v := range a {
		merged[k] = v
	}
	if errs := Check(merged, state != "draft"); len(errs) > 0 {
		s.refuse(w, http.StatusUnprocessableEntity, errs...)
		return
	}
	delete(merged, "event")
	merged["doi"] = key
	merged["state"] = state
	status := http.StatusCreated
	rec := &Record{DOI: key, State: state, Attributes: merged}
	if existing != nil {
		rec.Updates = existing.Updates + 1
		status = http.StatusOK
	}
	s.dois[key] = rec
	writeDOI(w, status, rec)
}

func (s *Server) refuse(w http.ResponseWriter, status int, errs ...apiError) {
	for _, e := range errs {
		s.problems = append(s.problems, e.Source+": "+e.Title)
	}
	writeErrors(w, status, errs...)
}

func writeErrors(w http.ResponseWriter, status int, errs ...apiError) {
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": errs})
}

func writeDOI(w http.ResponseWriter, status int, rec *Record) {
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": rec.DOI, "type": "dois", "attributes": rec.Attributes}})
}

// Check returns the schema problems of DOI attributes (as in a REST API
// request); required says whether the mandatory properties must be there
// (registered and findable DOIs; drafts may be incomplete).
func Check(a map[string]any, required bool) []apiError {
	var errs []apiError
	bad := func(src, format string, args ...any) {
		errs = append(errs, apiError{Source: src, Title: fmt.Sprintf(format, args...)})
	}
	str := func(v any) (string, bool) { s, ok := v.(string); return s, ok }
	list := func(key string) ([]map[string]any, bool) {
		v, ok := a[key]
		if !ok || v == nil {
			return nil, false
		}
		arr, ok := v.([]any)
		if !ok {
			bad(key, "must be an array")
			return nil, false
		}
		var out []map[string]any
		for i, x := range arr {
			m, ok := x.(map[string]any)
			if !ok {
				bad(key, "item %d must be an object", i)
				continue
			}
			out = append(out, m)
		}
		return out, true
	}
	inList := func(src string, v any, allowed []string, need bool) {
		s, ok := str(v)
		if v == nil && !need {
			return
		}
		if !ok || !slices.Contains(allowed, s) {
			bad(src, "%v is not one of the controlled values", v)
		}
	}

	// url
	if u, ok := a["url"]; ok || required {
		s, _ := str(u)
		pu, err := url.Parse(s)
		if s == "" || err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad("url", "Can't be blank and must be an http(s) URL (got %v)", u)
		}
	}
	// creators
	creators, ok := list("creators")
	if required && len(creators) == 0 {
		bad("creators", "DOI %v: Missing child element(s). Expected is ( creator ).", a["doi"])
	}
	_ = ok
	for i, c := range creators {
		if n, _ := str(c["name"]); strings.TrimSpace(n) == "" {
			bad("creators", "creator %d: creatorName can't be blank", i)
		}
		inList("nameType", c["nameType"], nameTypes, false)
		if ids, ok := c["nameIdentifiers"].([]any); ok {
			for _, x := range ids {
				m, _ := x.(map[string]any)
				id, _ := str(m["nameIdentifier"])
				scheme, _ := str(m["nameIdentifierScheme"])
				if id == "" || scheme == "" {
					bad("nameIdentifiers", "creator %d: nameIdentifier and nameIdentifierScheme are required", i)
				}
				if scheme == "ORCID" && !regexp.MustCompile(`^(https://orcid.org/)?[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$`).MatchString(id) {
					bad("nameIdentifiers", "creator %d: %q is not an ORCID iD", i, id)
				}
			}
		} else if v, has := c["nameIdentifiers"]; has && v != nil {
			bad("nameIdentifiers", "creator %d: nameIdentifiers must be an array", i)
		}
		if aff, has := c["affiliation"]; has && aff != nil {
			if _, ok := aff.([]any); !ok {
				bad("affiliation", "creator %d: affiliation must be an array", i)
			}
		}
	}
	// titles
	titles, _ := list("titles")
	if required && len(titles) == 0 {
		bad("titles", "Missing child element(s). Expected is ( title ).")
	}
	for i, t := range titles {
		if s, _ := str(t["title"]); strings.TrimSpace(s) == "" {
			bad("titles", "title %d can't be blank", i)
		}
		inList("titleType", t["titleType"], titleTypes, false)
	}
	// publisher: a string, or (4.5) an object with a name
	switch p := a["publisher"].(type) {
	case string:
		if strings.TrimSpace(p) == "" {
			bad("publisher", "can't be blank")
		}
	case map[string]any:
		if n, _ := str(p["name"]); strings.TrimSpace(n) == "" {
			bad("publisher", "publisher.name can't be blank")
		}
	case nil:
		if required {
			bad("publisher", "can't be blank")
		}
	default:
		bad("publisher", "must be a string or an object")
	}
	// publicationYear: 4 digits, as a number or a string
	if y, ok := a["publicationYear"]; ok || required {
		var year int
		switch v := y.(type) {
		case float64:
			year = int(v)
			if float64(year) != v {
				year = 0
			}
		case string:
			year, _ = strconv.Atoi(v)
		}
		if year < 1000 || year > 9999 {
			bad("publicationYear", "%v is not a four-digit year", y)
		}
	}
	// types
	if t, ok := a["types"]; ok || required {
		m, _ := t.(map[string]any)
		if m == nil {
			bad("types", "types with resourceTypeGeneral is required")
		} else {
			inList("types.resourceTypeGeneral", m["resourceTypeGeneral"], resourceTypeGeneral, true)
		}
	}
	// recommended and optional properties
	dates, _ := list("dates")
	for _, d := range dates {
		inList("dateType", d["dateType"], dateTypes, true)
		if s, _ := str(d["date"]); !dateRe.MatchString(s) {
			bad("dates", "%q is not a date (YYYY, YYYY-MM-DD, …)", s)
		}
	}
	descs, _ := list("descriptions")
	for _, d := range descs {
		inList("descriptionType", d["descriptionType"], descTypes, true)
	}
	rels, _ := list("relatedIdentifiers")
	for _, r := range rels {
		inList("relatedIdentifierType", r["relatedIdentifierType"], relatedIDTypes, true)
		inList("relationType", r["relationType"], relationTypes, true)
		if s, _ := str(r["relatedIdentifier"]); s == "" {
			bad("relatedIdentifiers", "relatedIdentifier can't be blank")
		}
		if r["relatedIdentifierType"] == "DOI" {
			if s, _ := str(r["relatedIdentifier"]); !doiRe.MatchString(s) {
				bad("relatedIdentifiers", "%q is not a DOI", s)
			}
		}
	}
	subjects, _ := list("subjects")
	for _, sj := range subjects {
		if s, _ := str(sj["subject"]); strings.TrimSpace(s) == "" {
			bad("subjects", "subject can't be blank")
		}
	}
	rights, _ := list("rightsList")
	for _, r := range rights {
		if u, ok := r["rightsUri"]; ok {
			if s, _ := str(u); s != "" {
				if pu, err := url.Parse(s); err != nil || pu.Scheme == "" {
					bad("rightsList", "rightsUri %q is not a URI", s)
				}
			}
		}
	}
	for _, key := range []string{"sizes", "formats"} {
		if v, ok := a[key]; ok && v != nil {
			arr, ok := v.([]any)
			if !ok {
				bad(key, "must be an array of strings")
			}
			for _, x := range arr {
				if _, ok := x.(string); !ok {
					bad(key, "must be an array of strings")
				}
			}
		}
	}
	if v, ok := a["version"]; ok && v != nil {
		if _, ok := v.(string); !ok {
			bad("version", "must be a string")
		}
	}
	return errs
}
