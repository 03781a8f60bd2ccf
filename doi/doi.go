// Package doi mints DataCite DOIs for published versions and stores them.
//
// Minting is off unless configured (FromEnv): a zoo instance without a
// DataCite account still exports DataCite metadata (package fair), with
// the landing URL as its identifier.
//
// Identity. The DOI of a version is derived from it, not drawn at random:
// PREFIX/zoo.ID.N (Suffix). A retried mint — after a timeout, a crash
// between DataCite's answer and the local write, a second worker — asks
// for the same DOI again, and DataCite's 422 "already taken" answer turns
// into an update of that DOI (PUT /dois/DOI), so no version ever gets two
// DOIs and no DOI is left dangling.
//
// Storage. A minted DOI is recorded per version (Store, implemented by
// *sqlite.DB and *postgres.DB; doitest.RunStore is the conformance suite).
// The fair routes cite it (Record.DOI) once it is recorded.
package doi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/fair"
)

// Minter registers a findable DOI for a published version and returns it.
// Minting the same version again returns the same DOI.
type Minter interface {
	Mint(ctx context.Context, r fair.Record) (doi string, err error)
}

// Store records the DOI of each version.
type Store interface {
	// VersionDOI returns the version's DOI; NotFound if none was recorded.
	VersionDOI(ctx context.Context, modelID string, n int) (string, error)
	// SetVersionDOI records the version's DOI. Recording the same DOI again
	// is a no-op; a different DOI for the version, or a DOI already
	// recorded for another version, is a Conflict. DOIs compare
	// case-insensitively (they are stored as given).
	SetVersionDOI(ctx context.Context, modelID string, n int, doi string) error
	// ModelDOIs returns the recorded DOIs of a model's versions by number
	// (empty, not an error, for a model without any).
	ModelDOIs(ctx context.Context, modelID string) (map[int]string, error)
}

// Environment variables that configure minting (FromEnv).
const (
	EnvURL        = "ZOO_DATACITE_URL"        // API base, e.g. https://api.test.datacite.org
	EnvRepository = "ZOO_DATACITE_REPOSITORY" // repository (client) id, e.g. ABC.ZOO
	EnvPassword   = "ZOO_DATACITE_PASSWORD"   // repository password
	EnvPrefix     = "ZOO_DATACITE_PREFIX"     // DOI prefix, e.g. 10.5072
	EnvPublicURL  = "ZOO_PUBLIC_URL"          // the instance's public base URL, registered as each DOI's landing page base
)

// EnvHelp documents the variables (cmd/zoo's serve help).
const EnvHelp = `DOIs: set ` + EnvURL + ` (e.g. https://api.test.datacite.org),
` + EnvRepository + `, ` + EnvPassword + `, ` + EnvPrefix + ` (e.g.
10.5072) and ` + EnvPublicURL + ` (the public base URL that each DOI
resolves to, e.g. https://zoo.example.org) to mint a findable DataCite DOI
PREFIX/zoo.ID.N for every version when it is published (job "mint-doi",
retried); unset, no DOIs are minted.`

// Config configures the DataCite client.
type Config struct {
	URL        string // API base URL, no trailing slash needed
	Repository string
	Password   string
	Prefix     string
	PublicURL  string       // base of the landing URLs registered
	HTTP       *http.Client // default: 30 s timeout
}

// FromEnv reads the configuration from getenv (os.Getenv). It returns nil
// (minting off) when none of the DataCite variables is set, and an Invalid
// error naming what is missing when only some are.
func FromEnv(getenv func(string) string) (*Config, error) {
	const op = "doi.FromEnv"
	c := &Config{URL: getenv(EnvURL), Repository: getenv(EnvRepository), Password: getenv(EnvPassword), Prefix: getenv(EnvPrefix), PublicURL: getenv(EnvPublicURL)}
	var missing []string
	set := 0
	for _, kv := range [][2]string{{EnvURL, c.URL}, {EnvRepository, c.Repository}, {EnvPassword, c.Password}, {EnvPrefix, c.Prefix}, {EnvPublicURL, c.PublicURL}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		} else if kv[0] != EnvPublicURL {
			set++
		}
	}
	if set == 0 {
		return nil, nil
	}
	if len(missing) > 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "DOI minting is half configured: set %s too (or unset the ZOO_DATACITE_* variables)", strings.Join(missing, ", "))
	}
	return c, c.check()
}

var prefixRe = regexp.MustCompile(`^10\.[0-9]{4,9}(\.[0-9]+)*$`)

func (c *Config) check() error {
	const op = "doi.Config"
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return zoo.E(op, zoo.Invalid, err, "%s=%q is not an http(s) URL", EnvURL, c.URL)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return zoo.E(op, zoo.Invalid, err, "%s=%q is not a base URL like https://zoo.example.org", EnvPublicURL, c.PublicURL)
	}
	if !prefixRe.MatchString(c.Prefix) {
		return zoo.E(op, zoo.Invalid, nil, "%s=%q is not a DOI prefix like 10.5072", EnvPrefix, c.Prefix)
	}
	return nil
}

// Suffix is the DOI suffix of version n of a model: "zoo.ID.N", the id
// lowercased with characters outside [a-z0-9-_] dropped.
func Suffix(modelID string, n int) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, modelID)
	return "zoo." + id + "." + strconv.Itoa(n)
}

// DataCite mints DOIs through the DataCite REST API.
type DataCite struct {
	cfg Config
}

// NewDataCite returns a client for cfg.
func NewDataCite(cfg Config) (*DataCite, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	return &DataCite{cfg: cfg}, nil
}

// PublicURL is the base of the registered landing URLs.
func (d *DataCite) PublicURL() string { return d.cfg.PublicURL }

// DOIFor is the DOI that version n of a model gets.
func (d *DataCite) DOIFor(modelID string, n int) string {
	return d.cfg.Prefix + "/" + Suffix(modelID, n)
}

// Mint registers (or, if DataCite already has it, updates) the findable
// DOI of r's version with r's DataCite metadata and its landing URL under
// PublicURL (r.Base is replaced), and returns the DOI.
//
// Errors: DataCite unreachable or answering 5xx or 429 → Unavailable
// (retry later); 401/403 → Forbidden (check the repository id,
// password and prefix); any other refusal → Invalid with DataCite's own messages.
func (d *DataCite) Mint(ctx context.Context, r fair.Record) (string, error) {
	const op = "doi.Mint"
	if r.Version == nil {
		return "", zoo.E(op, zoo.Invalid, nil, "no version to mint a DOI for")
	}
	doi := d.DOIFor(r.Version.ModelID, r.Version.Number)
	r.Base, r.DOI = d.cfg.PublicURL, doi
	a := fair.DataCiteAttributes(r)
	a.Event = "publish"
	body := map[string]any{"data": map[string]any{"type": "dois", "attributes": a}}
	status, resp, err := d.send(ctx, http.MethodPost, "/dois", body)
	if err != nil {
		return "", err
	}
	if status == http.StatusUnprocessableEntity && taken(resp) {
		body["data"].(map[string]any)["id"] = doi
		status, resp, err = d.send(ctx, http.MethodPut, "/dois/"+url.PathEscape(doi), body)
		if err != nil {
			return "", err
		}
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return "", refusal(op, status, resp)
	}
	var got struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.Unmarshal(resp, &got) == nil && strings.EqualFold(got.Data.ID, doi) {
		return got.Data.ID, nil
	}
	return doi, nil
}

// maxResponse bounds what is read of a DataCite answer.
const maxResponse = 1 << 20

func (d *DataCite) send(ctx context.Context, method, path string, body any) (int, []byte, error) {
	const op = "doi.Mint"
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, zoo.E(op, zoo.Internal, err, "")
	}
	req, err := http.NewRequestWithContext(ctx, method, d.cfg.URL+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, zoo.E(op, zoo.Invalid, err, "bad DataCite URL %q", d.cfg.URL)
	}
	req.SetBasicAuth(d.cfg.Repository, d.cfg.Password)
	req.Header.Set("Content-Type", "application/vnd.api+json")
	req.Header.Set("Accept", "application/vnd.api+json")
	res, err := d.cfg.HTTP.Do(req)
	if err != nil {
		return 0, nil, zoo.E(op, zoo.Unavailable, err, "DataCite (%s) did not answer; the DOI will be minted on retry", d.cfg.URL)
	}
	defer res.Body.Close()
	resp, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return 0, nil, zoo.E(op, zoo.Unavailable, err, "DataCite's answer was cut off; the DOI will be minted on retry")
	}
	return res.StatusCode, resp, nil
}

// apiErrors are DataCite's JSON:API errors.
type apiErrors struct {
	Errors []struct {
		Source string `json:"source"`
		Title  string `json:"title"`
	} `json:"errors"`
}

func taken(resp []byte) bool {
	var e apiErrors
	if json.Unmarshal(resp, &e) != nil {
		return false
	}
	for _, x := range e.Errors {
		if strings.Contains(strings.ToLower(x.Title), "already been taken") {
			return true
		}
	}
	return false
}

func refusal(op string, status int, resp []byte) error {
	var e apiErrors
	var msgs []string
	if json.Unmarshal(resp, &e) == nil {
		for i, x := range e.Errors {
			if i == 5 {
				msgs = append(msgs, fmt.Sprintf("and %d more", len(e.Errors)-5))
				break
			}
			m := x.Title
			if x.Source != "" {
				m = x.Source + ": " + m
			}
			msgs = append(msgs, m)
		}
	}
	detail := strings.Join(msgs, "; ")
	if len(detail) > 1000 {
		detail = detail[:1000]
	}
	cause := fmt.Errorf("DataCite answered %d: %s", status, detail)
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return zoo.E(op, zoo.Unavailable, cause, "DataCite is unavailable (status %d); the DOI will be minted on retry", status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return zoo.E(op, zoo.Forbidden, cause, "DataCite refused the request (status %d: %s); check %s and %s, and that the prefix %s belongs to that repository", status, detail, EnvRepository, EnvPassword, EnvPrefix)
	}
	return zoo.E(op, zoo.Invalid, cause, "DataCite refused the DOI's metadata (status %d): %s", status, detail)
}

// CheckDOI is the input check of Store.SetVersionDOI: a DOI "10.…/…" of
// at most 300 characters (Invalid otherwise).
func CheckDOI(op, d string) error {
	if len(d) > 300 || fair.NormDOI(d) != d {
		return zoo.E(op, zoo.Invalid, nil, "%.300q is not a DOI like 10.5072/zoo.ID.N", d)
	}
	return nil
}
