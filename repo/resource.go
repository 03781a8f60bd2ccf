package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// CheckResource is the test of a version that is not a model — a
// dataset, an application, a notebook: it has no weights to run, so its
// checks are what can be checked of stored data, on the version unpacked
// in dir:
//
//   - "description": the stored description is valid, with file checks
//     (every file it references is in the package, and matches the
//     sha256 the description gives);
//   - "files": every stored file is there with the size and the sha256
//     recorded when it was uploaded.
//
// The version passes when both pass. The report has the shape of a
// model's (source, status, message, formats — none), plus "checks".
func CheckResource(v *zoo.Version, dir string) *TestResult {
	type check struct {
		Name    string   `json:"name"`
		Status  string   `json:"status"`
		Message string   `json:"message"`
		Errors  []string `json:"errors,omitempty"`
	}
	const maxErrors = 20
	var checks []check

	desc := check{Name: "description", Status: "passed"}
	data, err := os.ReadFile(filepath.Join(dir, v.DescriptionFile))
	if err != nil {
		desc.Status, desc.Message = "failed", "the description "+v.DescriptionFile+" is missing from the stored version"
	} else {
		res := spec.Validate(data, v.DescriptionFile, spec.Options{Files: true, FS: os.DirFS(dir)})
		if res.Report.OK() {
			desc.Message = fmt.Sprintf("valid %s %s, every referenced file present with its sha256", res.Report.Type, res.Report.FormatVersion)
		} else {
			desc.Status, desc.Message = "failed", fmt.Sprintf("%d problem(s) in the description or its files", len(res.Report.Errors))
			for i, p := range res.Report.Errors {
				if i == maxErrors {
					break
				}
				desc.Errors = append(desc.Errors, fmt.Sprintf("%s: %s", p.Loc, p.Msg))
			}
		}
	}
	checks = append(checks, desc)

	files := check{Name: "files", Status: "passed"}
	for _, f := range v.Files {
		if problem := checkFile(filepath.Join(dir, filepath.FromSlash(f.Path)), f); problem != "" {
			files.Status = "failed"
			if len(files.Errors) < maxErrors {
				files.Errors = append(files.Errors, f.Path+": "+problem)
			}
		}
	}
	if files.Status == "passed" {
		files.Message = fmt.Sprintf("%d file(s) present, each with the size and sha256 recorded at upload", len(v.Files))
	} else {
		files.Message = "stored files differ from what was uploaded"
	}
	checks = append(checks, files)

	status, msg := zoo.TestPassed, "not a model, so nothing runs; its checks passed: the description is valid and every file is present with its sha256"
	for _, c := range checks {
		if c.Status != "passed" {
			status, msg = zoo.TestFailed, "the "+c.Name+" check failed: "+c.Message
			break
		}
	}
	report, _ := json.Marshal(map[string]any{
		"source": v.DescriptionFile, "status": string(status), "message": msg,
		"formats": map[string]any{}, "checks": checks,
	})
	return &TestResult{Status: status, Report: report}
}

// checkFile says what is wrong with the unpacked file p of f ("" if
// nothing).
func checkFile(p string, f zoo.File) string {
	fh, err := os.Open(p)
	if err != nil {
		return "missing"
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	switch {
	case err != nil:
		return "unreadable"
	case n != f.Size:
		return fmt.Sprintf("%d bytes, %d recorded", n, f.Size)
	case hex.EncodeToString(h.Sum(nil)) != f.SHA256:
		return "its sha256 differs from the recorded " + f.SHA256
	}
	return ""
}
