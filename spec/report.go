package spec

import (
	"encoding/json"
	"sort"
	"strings"
)

// Severity ranks a problem. Warnings have severities below Error; a
// validation with a warning level turns warnings at or above it into errors.
type Severity int

// Severities as the reference format defines them.
const (
	Info    Severity = 20 // cosmetic
	Warning Severity = 30 // works, but consumers may struggle
	Alert   Severity = 35 // missing FAIR metadata or a suspicious choice
	Error   Severity = 50 // the description is invalid
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Alert:
		return "alert"
	}
	return "error"
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Problem is one finding: where (dotted field path and YAML position) and
// what. Loc is "" for problems of the whole document.
type Problem struct {
	Loc      string   `json:"loc"`
	Msg      string   `json:"msg"`
	Severity Severity `json:"severity"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
}

// Status of a validation.
const (
	StatusValid  = "valid-format" // the description is valid
	StatusFailed = "failed"       // it is not
)

// Report is the outcome of validating one description. Errors and Warnings
// are sorted by position.
type Report struct {
	Source        string
	Status        string
	Type          string // as declared ("unknown" if missing)
	FormatVersion string // as validated, e.g. "0.5.7" ("unknown" if missing)
	ID            string
	Errors        []Problem
	Warnings      []Problem
}

// OK reports whether the description is valid.
func (r *Report) OK() bool { return r.Status == StatusValid }

func (r *Report) finish() {
	byPos := func(ps []Problem) {
		sort.SliceStable(ps, func(i, j int) bool {
			if ps[i].Line != ps[j].Line {
				return ps[i].Line < ps[j].Line
			}
			return ps[i].Loc < ps[j].Loc
		})
	}
	r.Errors = dedupe(r.Errors)
	r.Warnings = dedupe(r.Warnings)
	byPos(r.Errors)
	byPos(r.Warnings)
	if len(r.Errors) > 0 {
		r.Status = StatusFailed
	} else {
		r.Status = StatusValid
	}
}

func dedupe(ps []Problem) []Problem {
	seen := map[string]bool{}
	out := ps[:0]
	for _, p := range ps {
		k := p.Loc + "\x00" + p.Msg
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out
}

// path is a field path: map keys and list indices.
type path []string

func (p path) k(key string) path {
	q := make(path, len(p)+1)
	copy(q, p)
	q[len(p)] = key
	return q
}

func (p path) i(i int) path { return p.k(itoa(i)) }

func (p path) String() string { return strings.Join(p, ".") }

func itoa(i int) string {
	if i >= 0 && i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// JSONReport is the machine-readable form of a Report, as `zoo validate
// --json` prints it and the repository API returns it.
type JSONReport struct {
	Source        string        `json:"source"`
	Status        string        `json:"status"`
	Type          string        `json:"type"`
	FormatVersion string        `json:"format_version"`
	Errors        []JSONProblem `json:"errors"`
	Warnings      []JSONProblem `json:"warnings"`
}

// JSONProblem is one error or warning of a JSONReport. Line and Column are
// 1-based (0 when unknown); Severity is set for warnings only.
type JSONProblem struct {
	Loc      string `json:"loc"`
	Msg      string `json:"msg"`
	Severity string `json:"severity,omitempty"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
}

// JSON returns the report in its machine-readable form.
func (r *Report) JSON() JSONReport {
	jr := JSONReport{Source: r.Source, Status: r.Status, Type: r.Type, FormatVersion: r.FormatVersion,
		Errors: []JSONProblem{}, Warnings: []JSONProblem{}}
	for _, e := range r.Errors {
		jr.Errors = append(jr.Errors, JSONProblem{Loc: e.Loc, Msg: e.Msg, Line: e.Line, Column: e.Column})
	}
	for _, w := range r.Warnings {
		jr.Warnings = append(jr.Warnings, JSONProblem{Loc: w.Loc, Msg: w.Msg, Severity: w.Severity.String(), Line: w.Line, Column: w.Column})
	}
	return jr
}

// MarshalJSON writes the report in its machine-readable form (JSONReport).
func (r Report) MarshalJSON() ([]byte, error) { return json.Marshal(r.JSON()) }
