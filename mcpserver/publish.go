package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// MaxYAMLBytes bounds a description sent as text (spec's own parser limit).
const MaxYAMLBytes = 8 << 20

// ValidateIn are validate_description's arguments.
type ValidateIn struct {
	YAML string `json:"yaml,omitempty" jsonschema:"the description's text (rdf.yaml / bioimageio.yaml); its files are not checked"`
	Path string `json:"path,omitempty" jsonschema:"a description yaml, package folder or package .zip on this computer, checked with its files (local zoo mcp only)"`
}

// Problem is one finding of a validation.
type Problem struct {
	Field    string `json:"field" jsonschema:"dotted path of the field, e.g. inputs.0.axes.2.size; empty for the whole document"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Severity string `json:"severity" jsonschema:"error or warning"`
	Message  string `json:"message"`
}

// ValidateOut is validate_description's result.
type ValidateOut struct {
	Valid         bool      `json:"valid"`
	Status        string    `json:"status"`
	Type          string    `json:"type"`
	FormatVersion string    `json:"format_version"`
	Errors        []Problem `json:"errors"`
	Warnings      []Problem `json:"warnings"`
	Next          string    `json:"next" jsonschema:"what to do now"`
}

func validateOut(r *spec.Report) ValidateOut {
	out := ValidateOut{Valid: r.OK(), Status: r.Status, Type: r.Type, FormatVersion: r.FormatVersion,
		Errors: problems(r.Errors, "error"), Warnings: problems(r.Warnings, "warning")}
	switch {
	case !out.Valid:
		out.Next = "fix the errors (each names its field and line), then validate again"
	case len(out.Warnings) > 0:
		out.Next = "valid; the warnings are worth fixing before upload_model"
	default:
		out.Next = "valid: upload it with upload_model (needs a token)"
	}
	return out
}

func problems(ps []spec.Problem, sev string) []Problem {
	out := []Problem{}
	for _, p := range ps {
		out = append(out, Problem{Field: p.Loc, Line: p.Line, Column: p.Column, Severity: sev, Message: p.Msg})
	}
	return out
}

func (ss *session) validate(ctx context.Context, req *mcp.CallToolRequest, in ValidateIn) (*mcp.CallToolResult, ValidateOut, error) {
	switch {
	case in.YAML != "" && in.Path != "":
		return nil, ValidateOut{}, userError("give either yaml or path, not both")
	case in.Path != "":
		if !ss.s.cfg.Files {
			return nil, ValidateOut{}, userError("this zoo server cannot read files on your computer; send the description's text in yaml, or run zoo mcp locally to check a package with its files")
		}
		res := spec.ValidatePath(in.Path, spec.Options{Files: true})
		return nil, validateOut(res.Report), nil
	case in.YAML != "":
		if len(in.YAML) > MaxYAMLBytes {
			return nil, ValidateOut{}, userError("the description is %d MiB; descriptions are at most %d MiB", len(in.YAML)>>20, MaxYAMLBytes>>20)
		}
		res := spec.Validate([]byte(in.YAML), "description.yaml", spec.Options{})
		return nil, validateOut(res.Report), nil
	}
	return nil, ValidateOut{}, userError("give the description: yaml (its text) or path (a file, folder or zip on this computer)")
}

// UploadIn are upload_model's arguments.
type UploadIn struct {
	Path          string `json:"path,omitempty" jsonschema:"a description yaml, package folder or package .zip on this computer (local zoo mcp only)"`
	PackageBase64 string `json:"package_base64,omitempty" jsonschema:"a package zip in base64 (size-limited, 32 MiB by default), when no path can be given"`
	Draft         bool   `json:"draft,omitempty" jsonschema:"keep the version a draft instead of submitting it for review"`
	Model         string `json:"model,omitempty" jsonschema:"add the version to this existing model id (you must maintain it)"`
}

// StatusOut is a version's state as upload_model and model_status report it.
type StatusOut struct {
	Ref           string            `json:"ref"`
	Name          string            `json:"name"`
	State         string            `json:"state" jsonschema:"draft, submitted, changes-requested, rejected, published or retired"`
	TestStatus    string            `json:"test_status" jsonschema:"pending (the test has not run yet), passed, failed or not-supported"`
	TestByFormat  map[string]string `json:"test_by_format"`
	ReviewComment string            `json:"review_comment,omitempty"`
	Validation    *ValidateOut      `json:"validation,omitempty" jsonschema:"why an upload was refused"`
	Next          string            `json:"next" jsonschema:"what happens next, or what to do"`
}

// versionAPI is the API path of a version.
func versionAPI(v *zoo.Version) string {
	return fmt.Sprintf("/api/v1/models/%s/versions/%d", v.ModelID, v.Number)
}

func statusOut(v *zoo.Version, desc *spec.Model) StatusOut {
	out := StatusOut{Ref: fmt.Sprintf("%s/%d", v.ModelID, v.Number), Name: v.Name, State: string(v.State), TestStatus: string(v.TestStatus),
		ReviewComment: v.ReviewComment}
	if desc != nil {
		out.TestByFormat = describe(v, desc, "").TestByFormat
	}
	if out.TestByFormat == nil {
		out.TestByFormat = map[string]string{}
	}
	switch {
	case v.State == zoo.StateDraft:
		out.Next = "a draft only you (and reviewers) see; submit it for review on the web pages or with the API (POST " + versionAPI(v) + "/submit)"
	case v.TestStatus == zoo.TestPending:
		out.Next = "the reproducibility test is queued; check again with model_status in a minute"
	case v.State == zoo.StateSubmitted:
		out.Next = "waiting for a reviewer; check again with model_status"
	case v.State == zoo.StatePublished:
		out.Next = "published: anyone can find and run it"
	default:
		out.Next = "see review_comment; upload a new version with upload_model and model " + v.ModelID
	}
	return out
}

func (ss *session) upload(ctx context.Context, req *mcp.CallToolRequest, in UploadIn) (*mcp.CallToolResult, StatusOut, error) {
	const tool = "upload_model"
	u := ss.caller(req)
	if u == nil {
		return nil, StatusOut{}, zoo.E("mcp", zoo.Unauthorized, nil, "upload_model needs an API token: anonymous callers cannot upload")
	}
	var body io.Reader
	var closeFn func()
	switch {
	case in.Path != "" && in.PackageBase64 != "":
		return nil, StatusOut{}, userError("give either path or package_base64, not both")
	case in.Path != "":
		if !ss.s.cfg.Files {
			return nil, StatusOut{}, userError("this zoo server cannot read files on your computer; send the package zip in package_base64, or use zoo upload")
		}
		pkg, res, err := bundle.Build(filepath.Clean(in.Path), bundle.BuildOptions{})
		if err != nil {
			if res != nil && !res.Report.OK() {
				vo := validateOut(res.Report)
				return nil, StatusOut{Validation: &vo, Next: vo.Next}, invalidError(vo)
			}
			return nil, StatusOut{}, ss.s.toolError(tool, err)
		}
		defer pkg.Close()
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _, err := bundle.Write(pw, pkg)
			pw.CloseWithError(err)
		}()
		body = pr
		closeFn = func() {
			pr.CloseWithError(errors.New("the upload ended"))
			<-done
		}
	case in.PackageBase64 != "":
		if limit := ss.s.cfg.MaxPackageBytes; int64(base64.StdEncoding.DecodedLen(len(in.PackageBase64))) > limit+3 {
			return nil, StatusOut{}, userError("the package is larger than %d MiB, the limit of packages sent in a call; give a path with zoo mcp, or use zoo upload", limit>>20)
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(in.PackageBase64))
		if err != nil {
			return nil, StatusOut{}, userError("package_base64 is not valid base64: %v", err)
		}
		body = bytes.NewReader(b)
	default:
		return nil, StatusOut{}, userError("give the package: path (on this computer) or package_base64 (a zip)")
	}
	v, err := ss.s.cfg.Repo.Upload(ctx, u, body, repo.UploadOptions{Draft: in.Draft, ModelID: in.Model})
	if closeFn != nil {
		closeFn()
	}
	if err != nil {
		var ip *repo.InvalidPackage
		if errors.As(err, &ip) && ip.Report != nil {
			vo := validateOut(ip.Report)
			return nil, StatusOut{Validation: &vo, Next: vo.Next}, invalidError(vo)
		}
		return nil, StatusOut{}, ss.s.toolError(tool, err)
	}
	desc, _ := ss.s.cfg.Repo.Description(ctx, v)
	out := statusOut(v, desc)
	if dups, err := ss.s.cfg.Repo.SameContent(ctx, u, v); err == nil && len(dups) > 0 {
		refs := make([]string, len(dups))
		for i, d := range dups {
			refs[i] = repo.Ref(d)
		}
		out.Next = "the same content is already at " + strings.Join(refs, ", ") + "; if this upload was not meant, withdraw it (POST " + versionAPI(v) + "/withdraw, or zoo withdraw " + out.Ref + "). " + out.Next
	}
	return nil, out, nil
}

// invalidError lists a refused package's errors (at most 20) with their
// lines.
func invalidError(vo ValidateOut) error {
	var b strings.Builder
	fmt.Fprintf(&b, "the package is invalid (%d error(s)); fix them and upload again (validate_description checks without uploading):", len(vo.Errors))
	for i, p := range vo.Errors {
		if i == 20 {
			fmt.Fprintf(&b, "\n- … and %d more", len(vo.Errors)-i)
			break
		}
		b.WriteString("\n- ")
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Message)
	}
	return errors.New(b.String())
}

func (ss *session) status(ctx context.Context, req *mcp.CallToolRequest, in ModelIn) (*mcp.CallToolResult, StatusOut, error) {
	u := ss.caller(req)
	v, err := ss.version(ctx, u, in.Model)
	if err != nil {
		return nil, StatusOut{}, ss.s.toolError("model_status", err)
	}
	desc, _ := ss.s.cfg.Repo.Description(ctx, v)
	out := statusOut(v, desc)
	if dups, err := ss.s.cfg.Repo.SameContent(ctx, u, v); err == nil && len(dups) > 0 {
		refs := make([]string, len(dups))
		for i, d := range dups {
			refs[i] = repo.Ref(d)
		}
		out.Next = "the same content is already at " + strings.Join(refs, ", ") + "; if this upload was not meant, withdraw it (POST " + versionAPI(v) + "/withdraw, or zoo withdraw " + out.Ref + "). " + out.Next
	}
	return nil, out, nil
}
