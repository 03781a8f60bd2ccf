package spec

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Options control a validation.
type Options struct {
	// Files turns on the file checks: referenced local files exist, sha256
	// values match, test tensors agree with their axes and dtypes. Root is
	// the folder relative paths are resolved against; Files is ignored
	// when Root is "" and FS is nil.
	Files bool
	Root  string
	// FS, if set, is used instead of the local file system (e.g. a zip).
	FS fs.FS
	// Fetch allows downloading remote files for the file checks; without
	// it remote references are only checked for syntax.
	// The caller closes what it returns and bounds its size and time.
	Fetch func(url string) (io.ReadCloser, error)
	// WarningLevel, if > 0, turns warnings of at least this severity into
	// errors (strict mode for CI).
	WarningLevel Severity
	// Limits bounds the parser; zero fields take DefaultLimits.
	Limits Limits
}

// Latest format versions, per type family.
const (
	LatestModel   = "0.5.7"
	Model04       = "0.4.10"
	LatestGeneric = "0.3.0"
	Generic02     = "0.2.4"
)

// Result is a validated description: the report, and the canonical document
// (normalised, upgraded within its major format) when parsing succeeded.
type Result struct {
	Report *Report
	Doc    *yaml.Node // root mapping; nil if the YAML could not be parsed
	refs   []*fileRefInfo
}

// Validate checks one description given as YAML bytes. source names it in
// the report. It never panics on any input and always returns a report.
func Validate(data []byte, source string, opts Options) *Result {
	rep := &Report{Source: source, Type: "unknown", FormatVersion: "unknown"}
	res := &Result{Report: rep}
	lim := opts.Limits
	if lim.MaxBytes == 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	root, perr := parseYAML(data, lim)
	if perr != nil {
		rep.Errors = append(rep.Errors, Problem{Msg: perr.Msg, Severity: Error, Line: perr.Line, Column: perr.Column})
		rep.finish()
		return res
	}
	res.Doc = root
	c := &checker{rep: rep, opts: &opts, last: root}
	validateDoc(c, root)
	if opts.Files {
		c.runFileChecks(root)
	}
	res.refs = c.files
	rep.finish()
	return res
}

// ValidateFile validates the description at path (a YAML file).
func ValidateFile(path string, opts Options) *Result {
	data, err := os.ReadFile(path)
	if err != nil {
		rep := &Report{Source: path, Type: "unknown", FormatVersion: "unknown"}
		rep.Errors = []Problem{{Msg: "cannot read the description: " + err.Error(), Severity: Error}}
		rep.finish()
		return &Result{Report: rep}
	}
	return Validate(data, path, opts)
}

// family names a group of types sharing format versions.
type family int

const (
	familyModel family = iota
	familyGeneric
)

var typeNameRE = regexp.MustCompile(`^[a-z0-9_\-]+$`)

// validateDoc dispatches on type and format_version (reference §1.2–1.3).
func validateDoc(c *checker, root *yaml.Node) {
	typ, fv, ok := extractTypeVersion(c, root)
	if !ok {
		return
	}
	c.rep.Type = typ
	fam := familyGeneric
	if typ == "model" {
		fam = familyModel
	}
	key, perr := versionKey(fv)
	if perr != "" {
		c.errorf(lookup(root, "format_version"), path{"format_version"}, "%s", perr)
		return
	}
	major, minor := key[0], key[1]
	fvNode := lookup(root, "format_version")
	switch fam {
	case familyModel:
		switch {
		case major == 0 && minor == 3 && futurePatch(fv, "0.3.6"):
			c.errorf(fvNode, path{"format_version"}, "unknown model format_version %q; model 0.3 ends at 0.3.6 (use 0.4.10 or %s)", clip(fv, 40), LatestModel)
		case major == 0 && (minor == 3 || minor == 4):
			if minor == 4 && futurePatch(fv, Model04) {
				c.warnf(Alert, fvNode, path{"format_version"}, "future format_version '%s' treated as '%s'", clip(fv, 40), Model04)
			}
			upgradeModel04(root)
			c.rep.FormatVersion = Model04
			setVersion(root, Model04)
			validateModel04(c, root)
		case major == 0 && minor == 5:
			setVersion(root, LatestModel)
			c.rep.FormatVersion = LatestModel
			validateModel05(c, root)
		case major == 0 && minor > 5:
			c.warnf(Alert, fvNode, path{"format_version"}, "future format_version '%s' treated as '%s'", clip(fv, 40), LatestModel)
			setVersion(root, LatestModel)
			c.rep.FormatVersion = LatestModel
			validateModel05(c, root)
		default:
			c.errorf(fvNode, path{"format_version"}, "unsupported model format_version %q; zoo reads 0.3, 0.4 and 0.5 (latest %s)", clip(fv, 40), LatestModel)
		}
	default:
		switch {
		case major == 0 && minor == 2:
			upgradeGeneric02(root)
			setVersion(root, Generic02)
			c.rep.FormatVersion = Generic02
			validateGeneric02(c, root, typ)
		case major == 0 && minor >= 3:
			if minor > 3 {
				c.warnf(Alert, fvNode, path{"format_version"}, "future format_version '%s' treated as '%s'", clip(fv, 40), LatestGeneric)
			}
			if minor == 3 && strings.Count(fv, ".") == 2 {
				upgradeGeneric03(c, root)
			}
			setVersion(root, LatestGeneric)
			c.rep.FormatVersion = LatestGeneric
			validateGeneric03(c, root, typ)
		default:
			c.errorf(fvNode, path{"format_version"}, "unsupported %s format_version %q; zoo reads 0.2 and 0.3 (latest %s)", clip(typ, 40), clip(fv, 40), LatestGeneric)
		}
	}
	if id := lookup(root, "id"); id != nil && id.Tag == "!!str" {
		c.rep.ID = id.Value
	}
}

// extractTypeVersion reads the two dispatch fields, which must be strings.
func extractTypeVersion(c *checker, root *yaml.Node) (typ, fv string, ok bool) {
	ok = true
	for _, k := range []string{"format_version", "type"} {
		n := lookup(root, k)
		switch {
		case n == nil:
			c.errorf(root, path{k}, "missing field '%s'; every description starts with 'type' and 'format_version'", k)
			ok = false
		case n.Kind != yaml.ScalarNode || n.Tag != "!!str":
			c.errorf(n, path{k}, "invalid type '%s': expected a string, found %s (quote it)", k, kindName(n))
			ok = false
		}
	}
	if !ok {
		return "", "", false
	}
	typ = lookup(root, "type").Value
	fv = lookup(root, "format_version").Value
	if typ == "" {
		c.errorf(lookup(root, "type"), path{"type"}, "'type' must not be empty")
		return "", "", false
	}
	return typ, fv, true
}

// versionKey returns (major, minor) of a format version string.
func versionKey(fv string) ([2]int, string) {
	parts := strings.Split(strings.TrimSpace(fv), ".")
	var key [2]int
	if len(parts) == 0 || parts[0] == "" {
		return key, "format_version must not be empty"
	}
	for i := 0; i < 2 && i < len(parts); i++ {
		v, err := strconv.Atoi(parts[i])
		if err != nil || v < 0 {
			return key, fmt.Sprintf("%q is not a format version such as %s", clip(fv, 40), LatestModel)
		}
		key[i] = v
	}
	for _, p := range parts[min(2, len(parts)):] { // "0" has no minor part

		if _, err := strconv.Atoi(p); err != nil {
			return key, fmt.Sprintf("%q is not a format version such as %s", clip(fv, 40), LatestModel)
		}
	}
	return key, ""
}

// futurePatch reports whether fv has the same major.minor as impl and a
// larger patch number.
func futurePatch(fv, impl string) bool {
	a, b := strings.Split(fv, "."), strings.Split(impl, ".")
	if len(a) < 3 || len(b) < 3 {
		return false
	}
	x, err1 := strconv.Atoi(a[2])
	y, err2 := strconv.Atoi(b[2])
	return err1 == nil && err2 == nil && x > y
}

// setVersion sets format_version in place, keeping its position.
func setVersion(root *yaml.Node, v string) {
	if n := lookup(root, "format_version"); n != nil && n.Kind == yaml.ScalarNode {
		n.Tag, n.Value, n.Style = "!!str", v, 0
		return
	}
	set(root, "format_version", strNode(v))
}
