package oai

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits on a request's arguments.
const (
	MaxQuery = 8 << 10 // bytes of the query string or form body
	MaxArg   = 2 << 10 // bytes of one argument's value
)

// Verbs.
const (
	verbIdentify            = "Identify"
	verbListMetadataFormats = "ListMetadataFormats"
	verbListSets            = "ListSets"
	verbListIdentifiers     = "ListIdentifiers"
	verbListRecords         = "ListRecords"
	verbGetRecord           = "GetRecord"
)

// Error codes of the protocol (OAI-PMH 2.0 §3.6).
const (
	BadArgument             = "badArgument"
	BadResumptionToken      = "badResumptionToken"
	BadVerb                 = "badVerb"
	CannotDisseminateFormat = "cannotDisseminateFormat"
	IDDoesNotExist          = "idDoesNotExist"
	NoRecordsMatch          = "noRecordsMatch"
	NoMetadataFormats       = "noMetadataFormats"
	NoSetHierarchy          = "noSetHierarchy"
)

// protoError is an OAI-PMH error condition (answered with HTTP 200 and an
// <error> element, as the protocol requires).
type protoError struct {
	Code, Msg string
}

func (e *protoError) Error() string { return e.Code + ": " + e.Msg }

func perr(code, format string, args ...any) *protoError {
	return &protoError{code, fmt.Sprintf(format, args...)}
}

// Which arguments each verb takes: required (r), optional (o), exclusive
// (x: resumptionToken, alone with the verb).
var verbArgs = map[string]map[string]byte{
	verbIdentify:            {},
	verbListMetadataFormats: {"identifier": 'o'},
	verbListSets:            {"resumptionToken": 'x'},
	verbListIdentifiers:     {"metadataPrefix": 'r', "from": 'o', "until": 'o', "set": 'o', "resumptionToken": 'x'},
	verbListRecords:         {"metadataPrefix": 'r', "from": 'o', "until": 'o', "set": 'o', "resumptionToken": 'x'},
	verbGetRecord:           {"identifier": 'r', "metadataPrefix": 'r'},
}

// request is a parsed, checked request. Args holds the arguments as given
// (for the <request> element of the answer).
type request struct {
	Verb       string
	Args       map[string]string
	Identifier string
	Prefix     string
	Set        string
	Token      string
	// From and Until bound datestamps (inclusive); zero when not given.
	From, Until time.Time
	// RawFrom and RawUntil are the given strings (kept in tokens).
	RawFrom, RawUntil string
}

// parseArgs checks the arguments of a request against the verb's rules.
// A missing, repeated or unknown verb is badVerb; repeated, unknown,
// missing or malformed arguments are badArgument. When the verb is fine
// but the arguments are not, the returned request carries the verb (the
// error answer then names it).
func parseArgs(q url.Values) (*request, *protoError) {
	verbs := q["verb"]
	if len(verbs) != 1 {
		if len(verbs) == 0 {
			return nil, perr(BadVerb, "the verb argument is missing; use one of Identify, ListMetadataFormats, ListSets, ListIdentifiers, ListRecords, GetRecord")
		}
		return nil, perr(BadVerb, "the verb argument is repeated")
	}
	rules, ok := verbArgs[verbs[0]]
	if !ok {
		return nil, perr(BadVerb, "%q is not an OAI-PMH verb; use one of Identify, ListMetadataFormats, ListSets, ListIdentifiers, ListRecords, GetRecord", clip(verbs[0]))
	}
	req := &request{Verb: verbs[0], Args: map[string]string{}}
	for k, vs := range q {
		if k == "verb" {
			continue
		}
		if _, ok := rules[k]; !ok {
			return req, perr(BadArgument, "%s does not take the argument %q", req.Verb, clip(k))
		}
		if len(vs) != 1 {
			return req, perr(BadArgument, "the argument %s is repeated", k)
		}
		if len(vs[0]) > MaxArg {
			return req, perr(BadArgument, "the argument %s is longer than %d bytes", k, MaxArg)
		}
		req.Args[k] = vs[0]
	}
	if tok, ok := req.Args["resumptionToken"]; ok {
		if len(req.Args) != 1 {
			return req, perr(BadArgument, "resumptionToken is an exclusive argument: send it alone with the verb")
		}
		req.Token = tok
		return req, nil
	}
	for k, kind := range rules {
		if _, ok := req.Args[k]; kind == 'r' && !ok {
			return req, perr(BadArgument, "%s requires the argument %s", req.Verb, k)
		}
	}
	req.Identifier = req.Args["identifier"]
	req.Prefix = req.Args["metadataPrefix"]
	req.Set = req.Args["set"]
	if err := req.setDates(req.Args["from"], req.Args["until"]); err != nil {
		return req, err
	}
	if req.Set != "" && !validSetSpec(req.Set) {
		return req, perr(BadArgument, "%q is not a set spec (e.g. type:model or tag:segmentation)", clip(req.Set))
	}
	return req, nil
}

// setDates parses from and until: both UTC datestamps, of day
// (YYYY-MM-DD) or seconds (YYYY-MM-DDThh:mm:ssZ) granularity, the same
// granularity when both are given, from not after until. A day-granular
// until includes the whole day.
func (req *request) setDates(from, until string) *protoError {
	req.RawFrom, req.RawUntil = from, until
	var fromDay, untilDay bool
	var err *protoError
	if from != "" {
		if req.From, fromDay, err = parseDatestamp("from", from); err != nil {
			return err
		}
	}
	if until != "" {
		if req.Until, untilDay, err = parseDatestamp("until", until); err != nil {
			return err
		}
		if untilDay {
			req.Until = req.Until.Add(24*time.Hour - time.Second)
		}
	}
	if from != "" && until != "" {
		if fromDay != untilDay {
			return perr(BadArgument, "from and until must have the same granularity (both YYYY-MM-DD or both YYYY-MM-DDThh:mm:ssZ)")
		}
		if req.From.After(req.Until) {
			return perr(BadArgument, "from (%s) is after until (%s)", from, until)
		}
	}
	return nil
}

const (
	dayLayout     = "2006-01-02"
	secondsLayout = "2006-01-02T15:04:05Z"
)

var (
	dayRE     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	secondsRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

func parseDatestamp(name, s string) (time.Time, bool, *protoError) {
	layout, day := secondsLayout, false
	switch {
	case dayRE.MatchString(s):
		layout, day = dayLayout, true
	case secondsRE.MatchString(s):
	default:
		return time.Time{}, false, perr(BadArgument, "%s %q is not a UTC datestamp YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ", name, clip(s))
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false, perr(BadArgument, "%s %q is not a valid date", name, clip(s))
	}
	return t, day, nil
}

// setSpecRE is the protocol's setSpec syntax (unreserved URI characters,
// ':' between levels).
var setSpecRE = regexp.MustCompile(`^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$`)

func validSetSpec(s string) bool { return len(s) <= MaxArg && setSpecRE.MatchString(s) }

// parseIdentifier splits "oai:HOST:ID/N". It returns ok=false for any
// other shape, a different host, or a version number that is not a
// positive integer.
func parseIdentifier(s, host string) (id string, n int, ok bool) {
	rest, found := strings.CutPrefix(s, "oai:"+host+":")
	if !found {
		return "", 0, false
	}
	id, ns, found := strings.Cut(rest, "/")
	if !found || id == "" || strings.ContainsAny(id, "/") {
		return "", 0, false
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n <= 0 || ns != strconv.Itoa(n) {
		return "", 0, false
	}
	return id, n, true
}

// clip shortens a user-given string for an error message.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
