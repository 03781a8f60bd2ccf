package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"github.com/zoo-bioimage/zoo"
)

// Produced is a tensor a test produced for one output of one weight format
// that did not match the package's test output. The repository keeps it
// as a content-addressed blob so that contributors and reviewers can
// download it and look at it; the stored test report references it (see
// ProducedOf).
//
// In the stored report each entry sits in formats.<format>.produced, a JSON
// array of {"format", "output", "sha256", "size", "shape", "dtype"}. Files
// that were not kept (over the per-run budget Config.MaxProduced) are
// listed in formats.<format>.produced_skipped as {"format", "output",
// "size", "reason"}.
type Produced struct {
	Format string `json:"format"`
	Output string `json:"output"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Shape  []int  `json:"shape"`
	DType  string `json:"dtype"`
	// Path is the local .npy file a Tester wrote (inside its out
	// folder); RunTest stores it and fills SHA256 and Size. Not stored.
	Path string `json:"-"`
}

// SkippedProduced is a produced tensor RunTest did not keep.
type SkippedProduced struct {
	Format string `json:"format"`
	Output string `json:"output"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

// TestResult is what a Tester returns.
type TestResult struct {
	Status zoo.TestStatus
	// Report is the JSON report; when Produced is not empty it must be a
	// JSON object whose "formats" member (if present) is an object of
	// objects keyed by weight format, as runner.TestReport encodes.
	Report json.RawMessage
	// Produced lists .npy files the tester wrote into its out folder, with
	// Format, Output, Shape, DType and Path set.
	Produced []Produced
}

// DefaultMaxProduced is Config.MaxProduced's default: the bytes of produced
// tensors one test run may keep (256 MiB).
const DefaultMaxProduced = 256 << 20

// Names of formats and outputs that produced tensors may carry: they
// become URL path segments, so nothing that could change a path.
var producedName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$`)

// ValidProducedName reports whether s may name a weight format or an
// output of a produced tensor (letters, digits, "_", ".", "+", "-", not
// starting with "." or "-", no "..", at most 128 bytes).
func ValidProducedName(s string) bool {
	return producedName.MatchString(s) && !containsDotDot(s)
}

func containsDotDot(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '.' && s[i+1] == '.' {
			return true
		}
	}
	return false
}

// storeProduced puts the produced files into the blob store within budget
// and writes their entries into the report.
func (s *Service) storeProduced(ctx context.Context, report json.RawMessage, produced []Produced) (json.RawMessage, error) {
	const op = "repo.RunTest"
	budget := s.cfg.MaxProduced
	if budget == 0 {
		budget = DefaultMaxProduced
	}
	budget = max(budget, 0)
	var kept []Produced
	var skipped []SkippedProduced
	used := int64(0)
	for _, p := range produced {
		if !ValidProducedName(p.Format) || !ValidProducedName(p.Output) {
			skipped = append(skipped, SkippedProduced{Format: p.Format, Output: p.Output, Reason: "the weight format or output name cannot be used in a URL"})
			continue
		}
		fi, err := os.Stat(p.Path)
		if err != nil || !fi.Mode().IsRegular() {
			return nil, zoo.E(op, zoo.Internal, err, "the test's produced tensor %s/%s is missing", p.Format, p.Output)
		}
		if used+fi.Size() > budget {
			skipped = append(skipped, SkippedProduced{Format: p.Format, Output: p.Output, Size: fi.Size(),
				Reason: fmt.Sprintf("not kept: this server keeps at most %s of produced tensors per test run", sizeText(budget))})
			continue
		}
		f, err := os.Open(p.Path)
		if err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot read the test's produced tensor")
		}
		sha, size, err := s.blobs.Put(ctx, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		used += size
		p.SHA256, p.Size, p.Path = sha, size, ""
		kept = append(kept, p)
	}
	if len(kept) == 0 && len(skipped) == 0 {
		return report, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(report, &top); err != nil || top == nil {
		return nil, zoo.E(op, zoo.Internal, err, "the tester returned produced tensors with a report that is not a JSON object")
	}
	formats := map[string]map[string]json.RawMessage{}
	if raw, ok := top["formats"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &formats); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "the tester's report has formats that are not objects")
		}
	}
	entry := func(format string) map[string]json.RawMessage {
		if formats[format] == nil {
			formats[format] = map[string]json.RawMessage{}
		}
		return formats[format]
	}
	byFormat := map[string][]Produced{}
	for _, p := range kept {
		byFormat[p.Format] = append(byFormat[p.Format], p)
	}
	for f, ps := range byFormat {
		b, _ := json.Marshal(ps)
		entry(f)["produced"] = b
	}
	skippedBy := map[string][]SkippedProduced{}
	for _, p := range skipped {
		skippedBy[p.Format] = append(skippedBy[p.Format], p)
	}
	for f, ps := range skippedBy {
		b, _ := json.Marshal(ps)
		entry(f)["produced_skipped"] = b
	}
	b, err := json.Marshal(formats)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot encode the test report")
	}
	top["formats"] = b
	return json.Marshal(top)
}

// ProducedOf returns the produced tensors a stored test report references
// (formats.<format>.produced), in no particular order. A report without
// them, or one that is not a JSON object, has none; entries whose names
// or sha256 are not valid are left out.
func ProducedOf(report json.RawMessage) []Produced {
	var rep struct {
		Formats map[string]struct {
			Produced []Produced `json:"produced"`
		} `json:"formats"`
	}
	if len(report) == 0 || json.Unmarshal(report, &rep) != nil {
		return nil
	}
	var out []Produced
	for f, fr := range rep.Formats {
		for _, p := range fr.Produced {
			if p.Format == f && ValidProducedName(p.Format) && ValidProducedName(p.Output) && validSHA(p.SHA256) {
				out = append(out, p)
			}
		}
	}
	return out
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ProducedTensor returns the produced tensor of output of format that v's
// test report references; NotFound if there is none.
func ProducedTensor(v *zoo.Version, format, output string) (Produced, error) {
	for _, p := range ProducedOf(v.TestReport) {
		if p.Format == format && p.Output == output {
			return p, nil
		}
	}
	return Produced{}, zoo.E("repo.ProducedTensor", zoo.NotFound, nil,
		"version %d of %s has no produced tensor for output %q of weight format %q (only failed reproductions keep one)", v.Number, v.ModelID, output, format)
}

// sizeText is n bytes for people: "256 MiB", "10 bytes".
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
