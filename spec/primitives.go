package spec

import (
	"fmt"
	"net/url"
	pathpkg "path"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/rivo/uniseg"
	"go.yaml.in/yaml/v3"
)

// This file holds the primitive value types of the format (reference §2):
// identifiers, ids, hashes, DOIs, ORCIDs, units, versions, dates, URLs and
// file sources.

var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true, "finally": true,
	"for": true, "from": true, "global": true, "if": true, "import": true, "in": true,
	"is": true, "lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true,
	"raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

// isIdentifier mirrors Python's str.isidentifier() and rejects keywords.
func isIdentifier(s string) bool {
	if s == "" || pythonKeywords[s] {
		return false
	}
	for i, r := range s {
		start := r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_ID_Start, r)
		if i == 0 {
			if !start {
				return false
			}
			continue
		}
		if !start && !unicode.IsDigit(r) && !unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc, unicode.Other_ID_Continue) {
			return false
		}
	}
	return true
}

// isLower mirrors Python's str.islower(): some cased letter, none upper case.
func isLower(s string) bool {
	cased := false
	for _, r := range s {
		if unicode.IsUpper(r) || unicode.IsTitle(r) {
			return false
		}
		if unicode.IsLower(r) {
			cased = true
		}
	}
	return cased
}

func identifierRule(s string) string {
	if !isIdentifier(s) {
		return fmt.Sprintf("%q is not a valid identifier (letters, digits and _, not starting with a digit, not a Python keyword)", clip(s, 60))
	}
	return ""
}

func lowerIdentifierRule(s string) string {
	if msg := identifierRule(s); msg != "" {
		return msg
	}
	if !isLower(s) {
		return fmt.Sprintf("%q must be lower case (and contain at least one letter)", clip(s, 60))
	}
	return ""
}

var (
	identifier      = strRule(1, 0, identifierRule)
	resourceIDRE    = regexp.MustCompile(`^[a-z0-9_\-/.]+$`)
	resourceIDRule  = strRule(1, 0, resourceIDCheck)
	doiRE           = regexp.MustCompile(`^10\.[0-9]{4}.+$`)
	doiRule         = strRule(1, 0, pattern(doiRE, "a DOI (10.NNNN/…)"))
	emailRE         = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	emailRule       = strRule(1, 0, pattern(emailRE, "an email address"))
	noSlashNameRule = strRule(0, 0, func(s string) string {
		if strings.ContainsAny(s, `/\`) {
			return fmt.Sprintf("%q must not contain '/' or '\\'", clip(s, 60))
		}
		return ""
	})
)

func resourceIDCheck(s string) string {
	if !resourceIDRE.MatchString(s) {
		return fmt.Sprintf("%q may only contain a-z, 0-9, '_', '-', '/' and '.'", clip(s, 60))
	}
	if strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
		return fmt.Sprintf("%q must not start or end with '/'", s)
	}
	return ""
}

// axisIDRule checks an axis id and applies the reference's aliases
// (b → batch, t → time, i → index, c → channel).
func axisIDRule(allowBatch bool) check {
	return func(c *checker, n *yaml.Node, p path) {
		s, ok := c.str(n, p)
		if !ok {
			return
		}
		if len(s) > 16 {
			c.errorf(n, p, "axis ids have at most 16 characters, %q has %d", clip(s, 40), len(s))
			return
		}
		if msg := identifierRule(s); msg != "" {
			c.errorf(n, p, "%s", msg)
			return
		}
		warnNotLower(c, n, p, s)
		given := s
		if alias, ok := axisAliases[s]; ok {
			n.Value = alias
			s = alias
		}
		if !allowBatch && s == "batch" {
			c.errorf(n, p, "the axis id %q means the batch axis, which this axis is not; give it another id (e.g. the letter of a space axis)", given)
		}
	}
}

// tensorIDRule checks a tensor id: an identifier of at most 32 characters.
func tensorIDRule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	if l := len([]rune(s)); l == 0 || l > 32 {
		c.errorf(n, p, "tensor ids have 1 to 32 characters, %q has %d", clip(s, 40), l)
		return
	}
	if msg := identifierRule(s); msg != "" {
		c.errorf(n, p, "%s", msg)
		return
	}
	warnNotLower(c, n, p, s)
}

// warnNotLower: the format asks for lower-case tensor and axis ids, but the
// reference validator accepts others (published models use "mNeon"), so zoo
// warns instead of failing. See docs/compatibility.md.
func warnNotLower(c *checker, n *yaml.Node, p path, s string) {
	if !isLower(s) {
		c.warnf(Warning, n, p, "%q should be lower case (and contain a letter); some tools will not find it", clip(s, 40))
	}
}

var axisAliases = map[string]string{"b": "batch", "t": "time", "i": "index", "c": "channel"}

// sha256Rule accepts 64 characters (lower-cased); the reference does not
// insist on hex digits and neither do we, so that real descriptions keep
// validating, but a non-hex value can never match a file.
func sha256Rule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 64 {
		c.errorf(n, p, "a sha256 has exactly 64 hex digits, this has %d characters", len(s))
		return
	}
	n.Value = s
}

// orcidRule checks an ORCID iD with its ISO 7064 mod 11-2 checksum.
func orcidRule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	if len(s) != 19 || s[4] != '-' || s[9] != '-' || s[14] != '-' {
		c.errorf(n, p, "%q is not an ORCID iD (NNNN-NNNN-NNNN-NNNX)", clip(s, 40))
		return
	}
	// the 16 symbols between the dashes ("0000-0000-0000-000-" has a dash
	// where the check digit belongs)
	digits := s[0:4] + s[5:9] + s[10:14] + s[15:19]
	if last := digits[15]; (last < '0' || last > '9') && last != 'X' {
		c.errorf(n, p, "%q is not an ORCID iD (digits expected)", s)
		return
	}
	total := 0
	for i := 0; i < 15; i++ {
		d := digits[i]
		if d < '0' || d > '9' {
			c.errorf(n, p, "%q is not an ORCID iD (digits expected)", s)
			return
		}
		total = (total + int(d-'0')) * 2
	}
	check := (12 - total%11) % 11
	want := byte('0' + check)
	if check == 10 {
		want = 'X'
	}
	if digits[15] != want {
		c.errorf(n, p, "%q has a wrong ORCID checksum digit", s)
	}
}

var (
	siPrefix  = `(Q|R|Y|Z|E|P|T|G|M|k|h|da|d|c|m|µ|n|p|f|a|z|y|r|q)?`
	siUnit    = `(m|g|s|A|K|mol|cd|Hz|N|Pa|J|W|C|V|F|Ω|S|Wb|T|H|lm|lx|Bq|Gy|Sv|kat|l|L)`
	siPower   = `(\^[+-]?[1-9]\d*)?`
	siPosPow  = `(\^\+?[1-9]\d*)?`
	siFactor  = siPrefix + siUnit + siPower
	siDenom   = siPrefix + siUnit + siPosPow
	siUnitRE  = regexp.MustCompile(`^` + siFactor + `(·` + siFactor + `)*` + `(/` + siDenom + `)*$`)
	siUnitFix = strings.NewReplacer("×", "·", "*", "·", " ", "·")
)

func siUnitRule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	fixed := siUnitFix.Replace(s)
	if !siUnitRE.MatchString(fixed) {
		c.errorf(n, p, "%q is not an SI unit (e.g. \"m\", \"µm\", \"m·s^-1\") nor \"arbitrary unit\"", clip(s, 40))
		return
	}
	n.Value = fixed
}

// PEP 440 versions, as Python's packaging library parses them.
var pep440RE = regexp.MustCompile(`(?i)^\s*v?(?:(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?(?:[-_.]?dev[-_.]?[0-9]*)?)(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$`)

// versionRule accepts a PEP 440 version given as a string, an int or a
// float. Beware: YAML reads an unquoted 1.10 as the float 1.1.
func versionRule(c *checker, n *yaml.Node, p path) {
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") {
		c.errorf(n, p, "expected a version such as \"1.2.0\", found %s", kindName(n))
		return
	}
	v := n.Value
	if n.Tag == "!!float" {
		if f, ok := asFloat(n); ok {
			v = formatFloat(f)
		}
	}
	if !pep440RE.MatchString(v) {
		c.errorf(n, p, "%q is not a version (PEP 440, e.g. \"1.2.0\")", clip(v, 40))
		return
	}
	n.Tag, n.Value, n.Style = "!!str", strings.TrimSpace(v), 0
}

var datetimeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05",
	"2006-01-02T15:04:05.999999999Z0700", "2006-01-02", "20060102T150405", "20060102",
}

// parseDatetime parses the ISO 8601 forms real descriptions use.
func parseDatetime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range datetimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func datetimeRule(c *checker, n *yaml.Node, p path) {
	if n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "!!timestamp") {
		if t, ok := parseDatetime(n.Value); ok {
			n.Tag, n.Value, n.Style = "!!str", t.Format("2006-01-02T15:04:05.999999")+"+00:00", 0
			return
		}
	}
	c.errorf(n, p, "expected an ISO 8601 date and time such as 2024-05-01T12:00:00Z, found %s", kindName(n))
}

func httpURLCheck(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http(s) URL", clip(s, 80))
	}
	if len(s) > 2083 {
		return "URL longer than 2083 characters"
	}
	return ""
}

var httpURLRule = strRule(1, 0, httpURLCheck)

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// reservedNames are file names a referenced file may not have: they are the
// description's own names inside a package.
func isReservedName(name string) bool {
	base := pathpkg.Base(strings.ReplaceAll(name, `\`, "/"))
	for _, r := range []string{"rdf.yaml", "bioimageio.yaml", "model.yaml"} {
		if base == r || strings.HasSuffix(base, "."+r) {
			return true
		}
	}
	return false
}

// suffixOf returns the last suffix of a path or URL, lower-cased if fold.
// Zenodo API URLs end in /content, which is ignored.
func suffixOf(src string) string {
	if isURL(src) {
		if u, err := url.Parse(src); err == nil {
			src = strings.TrimSuffix(u.Path, "/content")
		}
	}
	ext := pathpkg.Ext(src)
	return ext
}

// fileSource describes the allowed suffixes of one kind of file reference.
type fileSource struct {
	suffixes      []string // "" = any
	caseSensitive bool
	noReserved    bool // reject rdf.yaml etc.
}

// rule checks a file source: an http(s) URL, a relative POSIX path (inside
// the package) or an absolute local path. File existence is checked later
// by the file checks.
func (fs fileSource) rule(c *checker, n *yaml.Node, p path) {
	s, ok := c.str(n, p)
	if !ok {
		return
	}
	if s == "" {
		c.errorf(n, p, "a file reference must not be empty")
		return
	}
	if strings.HasPrefix(s, "http:") || strings.HasPrefix(s, "https:") {
		if msg := httpURLCheck(s); msg != "" {
			c.errorf(n, p, "%s", msg)
			return
		}
	}
	if fs.noReserved && isReservedName(s) {
		c.errorf(n, p, "%q is a reserved file name (it names a description); rename the file", s)
		return
	}
	if len(fs.suffixes) > 0 {
		suf := suffixOf(s)
		match := false
		for _, want := range fs.suffixes {
			if suf == want || (!fs.caseSensitive && strings.EqualFold(suf, want)) {
				match = true
			}
		}
		if !match {
			c.errorf(n, p, "%q must end in %s", clip(s, 80), strings.Join(fs.suffixes, " or "))
			return
		}
	}
	c.fileRef(n, p, s)
}

var anyFile = fileSource{noReserved: true}

// fileDescr is {source, sha256?}.
func fileDescr(fs fileSource) check {
	return func(c *checker, n *yaml.Node, p path) {
		vals := c.object(n, p, []field{
			{key: "source", required: true, check: fs.rule},
			{key: "sha256", check: sha256Rule},
		}, false)
		if vals != nil {
			c.hashRef(n, "source", "sha256")
		}
	}
}

// emojiRule checks a string of 1 to max characters as a person sees them
// (id_emoji): grapheme clusters, so that an emoji made of several code
// points (🌶️ = U+1F336 U+FE0F, flags, skin tones, ZWJ sequences) counts
// as one. The reference counts code points but accepts such emoji where
// the 0.2 → 0.2.4 and 0.4.9 → 0.4.10 upgrades copy nickname_icon into
// id_emoji; zoo accepts every id_emoji the reference accepts.
func emojiRule(max int) check {
	return func(c *checker, n *yaml.Node, p path) {
		s, ok := c.str(n, p)
		if !ok {
			return
		}
		switch l := visibleChars(s, max); {
		case l == 0:
			c.errorf(n, p, "must not be empty")
		case l > max:
			c.errorf(n, p, "must be at most %d character%s (an emoji such as 🦈), found %q", max, plural(max), clip(s, 20))
		}
	}
}

// visibleChars counts the grapheme clusters of s, stopping past limit.
func visibleChars(s string, limit int) int {
	n, state := 0, -1
	for len(s) > 0 && n <= limit {
		_, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
		n++
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
