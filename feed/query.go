package feed

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
)

// Limits of the query (see ParseQuery).
const (
	DefaultLimit = 50   // entries when ?limit= is absent
	MaxLimit     = 200  // largest ?limit=
	MaxTags      = 10   // ?tag= values
	MaxTag       = 100  // bytes of one tag
	MaxType      = 64   // bytes of ?type=
	MaxRawQuery  = 4096 // bytes of the whole query string
)

// Query selects the events of a feed.
type Query struct {
	// Limit is the number of entries, 1 to MaxLimit.
	Limit int
	// Type, if not "", keeps the versions of models of that type
	// (zoo.Model.Type, "model" when empty), compared exactly.
	Type string
	// Tags, lower-cased, must all be tags of the version's description
	// (compared lower-cased, as package search does).
	Tags []string
}

// typeRE is the shape of a resource type (model, dataset, application, …).
var typeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseQuery reads a feed's raw query string: limit (decimal digits,
// 1–MaxLimit, default DefaultLimit), type (at most one, letters, digits,
// '.', '_', '-') and tag (repeatable, up to MaxTags; valid UTF-8 without
// control characters, at most MaxTag bytes; trimmed and lower-cased). A
// parameter given twice where one is allowed, an empty value, or a query
// that is not valid form encoding is an Invalid error saying what to fix.
// Other parameters (cache busters some feed readers add) are ignored.
func ParseQuery(raw string) (Query, error) {
	const op = "feed.ParseQuery"
	q := Query{Limit: DefaultLimit}
	if len(raw) > MaxRawQuery {
		return q, zoo.E(op, zoo.Invalid, nil, "the query string is longer than %d bytes", MaxRawQuery)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, zoo.E(op, zoo.Invalid, nil, "the query string is not valid form encoding (escape %% as %%25, use & between parameters)")
	}
	if vs, ok := vals["limit"]; ok {
		if len(vs) != 1 {
			return q, zoo.E(op, zoo.Invalid, nil, "give limit at most once")
		}
		s := vs[0]
		if s == "" || len(s) > 3 || strings.Trim(s, "0123456789") != "" {
			return q, zoo.E(op, zoo.Invalid, nil, "limit must be a whole number from 1 to %d", MaxLimit)
		}
		n, _ := strconv.Atoi(s)
		if n < 1 || n > MaxLimit {
			return q, zoo.E(op, zoo.Invalid, nil, "limit must be a whole number from 1 to %d", MaxLimit)
		}
		q.Limit = n
	}
	if vs, ok := vals["type"]; ok {
		if len(vs) != 1 {
			return q, zoo.E(op, zoo.Invalid, nil, "give type at most once (a version has one type)")
		}
		t := strings.TrimSpace(vs[0])
		if t == "" || len(t) > MaxType || !typeRE.MatchString(t) {
			return q, zoo.E(op, zoo.Invalid, nil, "type must be a resource type such as model or dataset (letters, digits, '.', '_', '-'; at most %d bytes)", MaxType)
		}
		q.Type = t
	}
	if vs, ok := vals["tag"]; ok {
		if len(vs) > MaxTags {
			return q, zoo.E(op, zoo.Invalid, nil, "give at most %d tag parameters", MaxTags)
		}
		for _, v := range vs {
			t := strings.ToLower(strings.TrimSpace(v))
			if t == "" || len(t) > MaxTag || !printable(t) {
				return q, zoo.E(op, zoo.Invalid, nil, "each tag must be non-empty text of at most %d bytes (valid UTF-8, no control characters)", MaxTag)
			}
			if !contains(q.Tags, t) {
				q.Tags = append(q.Tags, t)
			}
		}
	}
	return q, nil
}

// printable reports whether s is valid UTF-8 without control characters
// (nor U+FFFD, which stands for bytes that were not text).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError || !xmlChar(r) {
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// canonical is the query's form in the feed's own URLs (self link, id),
// limit left out when it is the default.
func (q Query) canonical(withLimit bool) string {
	v := url.Values{}
	if withLimit && q.Limit != DefaultLimit {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Type != "" {
		v.Set("type", q.Type)
	}
	for _, t := range q.Tags {
		v.Add("tag", t)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
