package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The rules behind the reference cases (reference_test.go), tested at the
// level of the rule: what is accepted, what is normalised and what zoo
// says about it.

func TestVisibleChars(t *testing.T) {
	cases := []struct {
		s    string
		want int // capped at limit+1 = 3
	}{
		{"", 0},
		{"a", 1},
		{"🦈", 1},
		{"🌶️", 1},                       // U+1F336 U+FE0F
		{"🇩🇪", 1},                       // regional indicator pair
		{"👩🏽‍🔬", 1},                     // woman scientist, skin tone, ZWJ
		{"e\u0301", 1},                  // e + combining acute
		{"ab", 2},                       //
		{"🌶️🌶️", 2},                     //
		{"abc", 3},                      //
		{strings.Repeat("a", 1<<20), 3}, // stops counting past the limit
	}
	for _, tc := range cases {
		if got := visibleChars(tc.s, 2); got != tc.want {
			t.Errorf("visibleChars(%q) = %d, want %d", clip(tc.s, 12), got, tc.want)
		}
	}
}

func TestIDEmojiCountsVisibleCharacters(t *testing.T) {
	base := "type: dataset\nformat_version: %s\nname: Some dataset\ndescription: d\nid_emoji: %s\n"
	cases := []struct {
		fv, emoji string
		ok        bool
	}{
		{"0.2.4", "🌶️", true},
		{"0.2.4", "👩🏽‍🔬", true},
		{"0.2.4", "🦈🦈", false},
		{"0.2.4", `""`, false},
		{"0.3.0", "🌶️🌶️", true},
		{"0.3.0", "🇩🇪🇫🇷", true},
		{"0.3.0", "🦈🦈🦈", false},
	}
	for _, tc := range cases {
		doc := strings.Replace(strings.Replace(base, "%s", tc.fv, 1), "%s", tc.emoji, 1)
		rep := Validate([]byte(doc), "x.yaml", Options{}).Report
		bad := false
		for _, e := range rep.Errors {
			if e.Loc == "id_emoji" {
				bad = true
			}
		}
		if bad == tc.ok {
			t.Errorf("%s id_emoji %s: errors %v, want ok=%v", tc.fv, tc.emoji, rep.Errors, tc.ok)
		}
	}
}

func TestLaxNumbers(t *testing.T) {
	for s, want := range map[string]bool{
		"1": true, "-1.5": true, "1e-6": true, ".5": true, "5.": true, "+3": true,
		"inf": true, "-inf": true, "Infinity": true, "-INF": true, "nan": true, "NaN": true,
		"0x10": false, "0x1p-2": false, "1_000": false, "abc": false, "": false, "-.inf": false, "1,5": false,
	} {
		if got := looksNumeric(s); got != want {
			t.Errorf("looksNumeric(%q) = %v, want %v", s, got, want)
		}
	}
}

// A data_range given as strings is read as numbers (normalised in the
// document, with an INFO); elsewhere an infinite number stays an error.
func TestInfStrings(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "reference", "model04-data-range-inf-strings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res := Validate(data, "m.yaml", Options{})
	if !res.Report.OK() {
		t.Fatalf("errors: %v", res.Report.Errors)
	}
	r := lookup(lookup(res.Doc, "inputs").Content[0], "data_range")
	if r.Content[0].Tag != "!!float" || r.Content[0].Value != "-.inf" || r.Content[1].Value != ".inf" {
		t.Errorf("data_range not normalised: %s %s %s", r.Content[0].Tag, r.Content[0].Value, r.Content[1].Value)
	}
	if !hasWarning(res.Report, "inputs.0.data_range.0", "read as the number -.inf") {
		t.Errorf("no INFO about the string read as a number: %v", res.Report.Warnings)
	}
	m05, err := os.ReadFile(filepath.Join("testdata", "reference", "model05-data-range-inf-strings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res = Validate(m05, "m.yaml", Options{})
	if !res.Report.OK() || !hasWarning(res.Report, "inputs.0.data.range.0", "replaced 'inf'") {
		t.Fatalf("0.5 range of inf strings: errors %v warnings %v", res.Report.Errors, res.Report.Warnings)
	}
	for _, spelling := range []string{"+inf", "Infinity", "nan"} {
		doc := strings.Replace(string(m05), `range: ["-inf", "inf"]`, `range: [0, "`+spelling+`"]`, 1)
		rep := Validate([]byte(doc), "m.yaml", Options{}).Report
		if rep.OK() || rep.Errors[0].Loc != "inputs.0.data.range.1" || !strings.Contains(rep.Errors[0].Msg, "finite") {
			t.Errorf("0.5 range [0, %q]: want a 'finite number' error at inputs.0.data.range.1, got %v", spelling, rep.Errors)
		}
	}
}

func hasWarning(r *Report, loc, msg string) bool {
	for _, w := range r.Warnings {
		if w.Loc == loc && strings.Contains(w.Msg, msg) {
			return true
		}
	}
	return false
}

// A 0.4 parent mapping that is not a linked model is dropped with an INFO
// and never reaches the 0.5 conversion; a well-formed one is converted,
// unless it names the model itself.
func TestParentMapping04(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "reference", "model04-parent-uri-sha256.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res := Validate(data, "m.yaml", Options{})
	if !res.Report.OK() || !hasWarning(res.Report, "parent", "ignored") {
		t.Fatalf("errors %v warnings %v", res.Report.Errors, res.Report.Warnings)
	}
	if lookup(res.Doc, "parent") != nil {
		t.Errorf("the ignored parent is still in the document")
	}
	conv, err := ConvertModel04To05(mustParse(t, string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if lookup(conv, "parent") != nil {
		t.Errorf("the converter carried the URL parent over")
	}
	self := strings.Replace(string(data), "parent:\n  uri: https://zenodo.org/records/5764892/files/rdf.yaml\n  sha256: 3aeda0ace2e9a595025fa103a3eae2fd620a95924b3fba00ff5d4451acf4ad53", "id: some-model\nparent: {id: some-model}", 1)
	conv, err = ConvertModel04To05(mustParse(t, self))
	if err != nil {
		t.Fatal(err)
	}
	if lookup(conv, "parent") != nil {
		t.Errorf("the converter kept a parent naming the model itself (0.5 refuses it)")
	}
}

// Generic 0.3.x descriptions go through the reference's 0.3 converter:
// 0.2 leftovers are dropped or reinterpreted, each with an INFO.
func TestUpgradeGeneric03(t *testing.T) {
	doc := `type: dataset
format_version: 0.3.0
name: "Cells: 2D & 3D"
description: d
attachments: {files: [a.csv]}
download_url: https://example.org/d.zip
rdf_source: https://example.org/rdf.yaml
`
	res := Validate([]byte(doc), "d.yaml", Options{})
	if !res.Report.OK() {
		t.Fatalf("errors: %v", res.Report.Errors)
	}
	for _, k := range []string{"download_url", "rdf_source"} {
		if lookup(res.Doc, k) != nil || !hasWarning(res.Report, k, "dropped") {
			t.Errorf("%s: not dropped with an INFO (warnings %v)", k, res.Report.Warnings)
		}
	}
	if n := lookup(res.Doc, "name"); n.Value != "Cells  2D   3D" || !hasWarning(res.Report, "name", "is read as") {
		t.Errorf("name %q, warnings %v", n.Value, res.Report.Warnings)
	}
	a := lookup(res.Doc, "attachments")
	if a == nil || len(a.Content) != 1 || lookup(a.Content[0], "source").Value != "a.csv" {
		t.Errorf("attachments not converted: %v", a)
	}
	// a 0.4 generic (a future version) is not converted: its 0.2 fields stay unknown
	future := strings.Replace(doc, "0.3.0", "0.4.0", 1)
	if rep := Validate([]byte(future), "d.yaml", Options{}).Report; rep.OK() {
		t.Errorf("future generic 0.4.0 with download_url validates")
	}
	// the long name is cut rather than refused
	long := strings.Replace(doc, `"Cells: 2D & 3D"`, strings.Repeat("n", 200), 1)
	res = Validate([]byte(long), "d.yaml", Options{})
	if !res.Report.OK() || len(lookup(res.Doc, "name").Value) != 128 {
		t.Errorf("200-character name: errors %v", res.Report.Errors)
	}
}

// The rules stay fast on hostile values: an id_emoji of 4 MiB is refused
// without counting all of it.
func TestHostileIDEmoji(t *testing.T) {
	doc := "type: dataset\nformat_version: 0.2.4\nname: n\ndescription: d\nid_emoji: " + strings.Repeat("🌶️", 1<<19) + "\n"
	start := time.Now()
	rep := Validate([]byte(doc), "d.yaml", Options{}).Report
	if rep.OK() {
		t.Fatal("a 4 MiB id_emoji validates")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func mustParse(t *testing.T, s string) *yaml.Node {
	t.Helper()
	n, err := parseYAML([]byte(s), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
