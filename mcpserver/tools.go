package mcpserver

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/repo"
)

// Tools are the names of the tools, in the order they are listed.
var Tools = []string{"search_models", "describe_model", "run_model", "validate_description", "upload_model", "model_status", "list_challenges", "show_leaderboard"}

const instructions = `zoo is a repository of pre-trained bioimage analysis models (bioimage.io format).
To help a scientist: search_models with words and facets (tags such as nuclei, segmentation; dims 2d/3d; test reproduces),
describe_model to explain a model's inputs and outputs, then run_model on their image.
Contributors: validate_description, then upload_model (needs a token), then model_status.`

func (s *Server) newMCP(ss *session) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: Name, Title: "zoo bioimage model repository", Version: s.cfg.Version},
		&mcp.ServerOptions{Instructions: instructions, Logger: s.log})
	ro := &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)}
	mcp.AddTool(srv, &mcp.Tool{Name: "search_models", Title: "Search models", Annotations: ro,
		Description: "Find models in this zoo by words (name, description, tags, authors, documentation) and facets: type, tags, dims (2d, 3d, time), weight_format, test (reproduces = zoo reproduced the model's own test outputs), tool (software that runs it), license. Returns ref (ID/N), name, a one-line description and what each input expects, and facet counts to narrow the search. Only published models are found."},
		tool(s, "search_models", ss.searchModels))
	mcp.AddTool(srv, &mcp.Tool{Name: "describe_model", Title: "Describe a model", Annotations: ro,
		Description: "Explain one model: what it does, each input and output in words (axes, sizes, channels, data type, value range, processing, what the output values mean), its test status per weight format, citation, licence, the tools that can run it and how to run it elsewhere. Drafts are visible to their uploader's token only."},
		tool(s, "describe_model", ss.describeModel))
	mcp.AddTool(srv, &mcp.Tool{Name: "run_model", Title: "Run a model on an image", Annotations: &mcp.ToolAnnotations{OpenWorldHint: ptr(false)},
		Description: "Run a published model on one image (TIFF, PNG or NumPy): given as path (a file on this computer, local zoo mcp) or image_base64 (size-limited). Reports progress per tile. Returns the result as files written (local) or a download URL, the output's shape and axes, what its values mean, and a small preview image."},
		tool(s, "run_model", ss.runModel))
	mcp.AddTool(srv, &mcp.Tool{Name: "validate_description", Title: "Validate a description", Annotations: ro,
		Description: "Check a bioimage.io description (rdf.yaml / bioimageio.yaml, any format version) against the format: given as yaml text, or as path to a yaml, package folder or zip (local zoo mcp; its files are checked too). Returns every error and warning with its field path and line."},
		tool(s, "validate_description", ss.validate))
	mcp.AddTool(srv, &mcp.Tool{Name: "upload_model", Title: "Upload a model package", Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
		Description: "Upload a model (a description yaml, package folder or zip given as path on this computer, or a zip in package_base64) as the token's user. It is validated, stored as a new version (submitted for review unless draft) and its reproducibility test is queued. Returns the version's ref, state and test status, or the validation problems with lines."},
		tool(s, "upload_model", ss.upload))
	mcp.AddTool(srv, &mcp.Tool{Name: "model_status", Title: "Status of a model version", Annotations: ro,
		Description: "The review state and test status (per weight format) of a model version, e.g. after upload_model, with what happens next."},
		tool(s, "model_status", ss.status))
	mcp.AddTool(srv, &mcp.Tool{Name: "list_challenges", Title: "List challenges", Annotations: ro,
		Description: "List the challenges (benchmarks) of this zoo: slug, title, metrics, phases with their dates, and whether the leaderboard is public."},
		tool(s, "list_challenges", ss.listChallenges))
	mcp.AddTool(srv, &mcp.Tool{Name: "show_leaderboard", Title: "Show a leaderboard", Annotations: ro,
		Description: "The ranked leaderboard of one challenge phase: rank, participant, model (for model submissions) and scores per metric. Equal scores share a rank (1224 competition ranking)."},
		tool(s, "show_leaderboard", ss.leaderboard))

	srv.AddResourceTemplate(&mcp.ResourceTemplate{Name: "model-file", Title: "A file of a model version",
		URITemplate: "zoo://models/{id}/{version}/{+path}", MIMEType: "text/plain",
		Description: "One file of a model version you may see: its description (rdf.yaml) or documentation (README.md), as describe_model lists them; version is a number or latest."},
		ss.readModelFile)
	srv.AddResource(&mcp.Resource{Name: "tools", Title: "How to use zoo's tools", URI: "zoo://docs/tools", MIMEType: "text/markdown",
		Description: "What each tool does and how they fit together."}, ss.readToolsDoc)

	srv.AddPrompt(&mcp.Prompt{Name: "segment-nuclei", Title: "Segment nuclei in an image",
		Description: "Find a nuclei segmentation model that fits an image, explain it and run it.",
		Arguments: []*mcp.PromptArgument{
			{Name: "image", Description: "the image: a file path, or a description of it", Required: true},
			{Name: "modality", Description: "e.g. fluorescence, brightfield, histology"},
		}}, promptSegmentNuclei)
	srv.AddPrompt(&mcp.Prompt{Name: "choose-model", Title: "Which model fits my data",
		Description: "Compare the models that fit a dataset and a task, by their inputs, tests and tools.",
		Arguments: []*mcp.PromptArgument{
			{Name: "task", Description: "what to do, e.g. segment cells, denoise, restore", Required: true},
			{Name: "data", Description: "the data: modality, dimensions (2D/3D/time), channels, pixel type", Required: true},
		}}, promptChooseModel)
	return srv
}

func ptr[T any](v T) *T { return &v }

// ChallengeInfo is one challenge in a list.
type ChallengeInfo struct {
	Slug        string            `json:"slug"`
	Title       string            `json:"title"`
	Description string            `json:"description" jsonschema:"one line"`
	Metrics     []string          `json:"metrics"`
	Ranking     string            `json:"ranking"`
	Leaderboard string            `json:"leaderboard" jsonschema:"public or hidden (hidden: organisers only until the phase closes)"`
	Phases      []challenge.Phase `json:"phases"`
}

// ChallengesOut is list_challenges' result.
type ChallengesOut struct {
	Challenges []ChallengeInfo `json:"challenges"`
}

func (ss *session) listChallenges(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, ChallengesOut, error) {
	if ss.s.cfg.Challenges == nil {
		return nil, ChallengesOut{}, fmt.Errorf("this zoo instance runs no challenges")
	}
	cs, err := ss.s.cfg.Challenges.List(ctx, ss.caller(req))
	if err != nil {
		return nil, ChallengesOut{}, ss.s.toolError("list_challenges", err)
	}
	out := ChallengesOut{Challenges: []ChallengeInfo{}}
	for _, c := range cs {
		ci := ChallengeInfo{Slug: c.Slug, Title: c.Title, Description: oneLine(c.Description, 200), Ranking: c.Ranking,
			Leaderboard: c.Leaderboard, Phases: c.Phases, Metrics: []string{}}
		for _, m := range c.Metrics {
			ci.Metrics = append(ci.Metrics, m.Key())
		}
		out.Challenges = append(out.Challenges, ci)
	}
	return nil, out, nil
}

// LeaderboardIn are show_leaderboard's arguments.
type LeaderboardIn struct {
	Challenge string `json:"challenge" jsonschema:"the challenge's slug, as list_challenges gives it"`
	Phase     string `json:"phase,omitempty" jsonschema:"the phase (default: the first one)"`
}

// LeaderboardRow is one ranked participant.
type LeaderboardRow struct {
	Rank   int            `json:"rank"`
	User   string         `json:"user"`
	Model  string         `json:"model,omitempty" jsonschema:"ID/N of a model submission"`
	Scores map[string]any `json:"scores" jsonschema:"metric key → mean over the images (a number, or Infinity/NaN as a string)"`
}

// LeaderboardOut is show_leaderboard's result.
type LeaderboardOut struct {
	Challenge string           `json:"challenge"`
	Phase     string           `json:"phase"`
	Metrics   []string         `json:"metrics"`
	Ties      string           `json:"ties"`
	Rows      []LeaderboardRow `json:"rows"`
}

func (ss *session) leaderboard(ctx context.Context, req *mcp.CallToolRequest, in LeaderboardIn) (*mcp.CallToolResult, LeaderboardOut, error) {
	if ss.s.cfg.Challenges == nil {
		return nil, LeaderboardOut{}, fmt.Errorf("this zoo instance runs no challenges")
	}
	if in.Challenge == "" || len(in.Challenge) > 100 {
		return nil, LeaderboardOut{}, userError("name the challenge by its slug (list_challenges lists them)")
	}
	u := ss.caller(req)
	phase := in.Phase
	if phase == "" {
		cs, err := ss.s.cfg.Challenges.List(ctx, u)
		if err != nil {
			return nil, LeaderboardOut{}, ss.s.toolError("show_leaderboard", err)
		}
		for _, c := range cs {
			if c.Slug == in.Challenge && len(c.Phases) > 0 {
				phase = c.Phases[0].Name
			}
		}
		if phase == "" {
			return nil, LeaderboardOut{}, zoo.E("mcp", zoo.NotFound, nil, "no challenge %q", in.Challenge)
		}
	}
	c, rows, err := ss.s.cfg.Challenges.Leaderboard(ctx, u, in.Challenge, phase)
	if err != nil {
		return nil, LeaderboardOut{}, ss.s.toolError("show_leaderboard", err)
	}
	out := LeaderboardOut{Challenge: c.Slug, Phase: phase, Ties: "equal scores share a rank; the next rank skips as many places as were shared (1224)",
		Metrics: []string{}, Rows: []LeaderboardRow{}}
	for _, m := range c.Metrics {
		out.Metrics = append(out.Metrics, m.Key())
	}
	for _, r := range rows {
		lr := LeaderboardRow{Rank: r.Rank, Scores: map[string]any{}}
		if r.Submission != nil {
			lr.User, lr.Model = r.Submission.User, r.Submission.Model
			for k, v := range r.Submission.Scores {
				switch f := float64(v); {
				case math.IsNaN(f):
					lr.Scores[k] = "NaN"
				case math.IsInf(f, 1):
					lr.Scores[k] = "Infinity"
				case math.IsInf(f, -1):
					lr.Scores[k] = "-Infinity"
				default:
					lr.Scores[k] = f
				}
			}
		}
		out.Rows = append(out.Rows, lr)
	}
	return nil, out, nil
}

// resourceURI names a file of a version.
func resourceURI(id string, n int, p string) string {
	return fmt.Sprintf("zoo://models/%s/%d/%s", id, n, p)
}

// parseResourceURI reads zoo://models/ID/N/PATH (N may be "latest").
func parseResourceURI(uri string) (id string, n int, p string, err error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "zoo" || u.Host != "models" {
		return "", 0, "", fmt.Errorf("not a model file URI: use zoo://models/ID/N/PATH")
	}
	parts := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 3)
	if len(parts) != 3 || !validID(parts[0]) || parts[2] == "" {
		return "", 0, "", fmt.Errorf("use zoo://models/ID/N/PATH (N a version number or latest)")
	}
	if parts[1] != "latest" {
		if n, err = strconv.Atoi(parts[1]); err != nil || n < 1 {
			return "", 0, "", fmt.Errorf("version %q: a number ≥ 1 or latest", parts[1])
		}
	}
	p = path.Clean(parts[2])
	if p == "." || strings.HasPrefix(p, "..") || path.IsAbs(p) || !utf8.ValidString(p) {
		return "", 0, "", fmt.Errorf("path %q is outside the package", parts[2])
	}
	return parts[0], n, p, nil
}

func (ss *session) readModelFile(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id, n, p, err := parseResourceURI(uri)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	v, err := ss.s.cfg.Repo.Get(ctx, ss.readerOf(req.Extra), id, n)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	f, err := repo.FileOf(v, p)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if f.Size > MaxResourceBytes {
		return nil, fmt.Errorf("%s is %d MiB; resources are at most %d MiB: download it from /files/%s/%d/%s", p, f.Size>>20, MaxResourceBytes>>20, v.ModelID, v.Number, p)
	}
	b, err := ss.s.cfg.Repo.Blobs().Open(ctx, f.SHA256)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s now; try again later", p)
	}
	defer b.Close()
	data, err := io.ReadAll(io.LimitReader(b, MaxResourceBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s now; try again later", p)
	}
	rc := &mcp.ResourceContents{URI: uri, MIMEType: mimeOf(p)}
	if utf8.Valid(data) && textual(p) {
		rc.Text = string(data)
	} else {
		rc.Blob = data
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{rc}}, nil
}

func textual(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml", ".md", ".txt", ".json", ".csv", ".py", ".cff", ".bib":
		return true
	}
	return false
}

func mimeOf(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml":
		return "application/yaml"
	case ".md":
		return "text/markdown"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	case ".tif", ".tiff":
		return "image/tiff"
	case ".txt", ".py", ".csv", ".cff", ".bib":
		return "text/plain"
	}
	return "application/octet-stream"
}

const toolsDoc = `# zoo's MCP tools

- **search_models**: words and facets → models (ref ID/N, name, one line, what each input expects) and facet counts.
- **describe_model**: one model in words: inputs and outputs (axes, sizes, channels, value range, processing,
  meaning), test status per weight format, citation, licence, tools, how to run it elsewhere, resource URIs.
- **run_model**: a published model on one image (path on this computer with local zoo mcp, or image_base64),
  with progress per tile; result files or a download URL, and a preview.
- **validate_description**: a description's problems with field paths and lines.
- **upload_model** (token): a package → a new version, validated and tested; **model_status** follows it.
- **list_challenges**, **show_leaderboard**: benchmarks and their rankings.

Resources: zoo://models/ID/N/PATH reads a file of a version (N may be latest), e.g. rdf.yaml or README.md.

Anonymous callers see published models only; a token acts as its user (drafts of its own).
Limits: images sent in a call are size-limited; runs at once per client and their time are limited.
`

func (ss *session) readToolsDoc(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/markdown", Text: toolsDoc}}}, nil
}

func promptSegmentNuclei(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	img := clip(req.Params.Arguments["image"], 500)
	if img == "" {
		return nil, fmt.Errorf("give the image argument: a file path or a description of the image")
	}
	modality := clip(req.Params.Arguments["modality"], 100)
	tags := "nuclei"
	if modality != "" {
		tags += ", " + modality
	}
	text := fmt.Sprintf(`Segment the nuclei in this image: %s.
1. Call search_models with query "nuclei segmentation" (tags: %s; test: reproduces if there are enough results).
2. For the best candidates call describe_model and check that the input fits the image (axes, channels, value range).
3. Call run_model with the chosen model and the image (path if it is a file on this computer, else image_base64).
4. Explain the output: what its values mean (e.g. probabilities to threshold at 0.5), where it was written or can be
   downloaded, and cite the model (describe_model's citations).`, img, tags)
	return &mcp.GetPromptResult{Description: "Segment nuclei in an image with a zoo model",
		Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}}}, nil
}

func promptChooseModel(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	task, data := clip(req.Params.Arguments["task"], 300), clip(req.Params.Arguments["data"], 500)
	if task == "" || data == "" {
		return nil, fmt.Errorf("give both arguments: task (e.g. segment cells) and data (modality, 2D/3D, channels)")
	}
	text := fmt.Sprintf(`I want to %s. My data: %s.
Which zoo model fits? Call search_models with words from the task and facets from the data (dims 2d or 3d,
tags for the modality), then describe_model for up to three candidates. Compare them in a short table: what the
input expects (axes, channels, value range) against my data, test status per weight format, tools that run it,
licence. Recommend one, say why, and say what to check on my images first.`, task, data)
	return &mcp.GetPromptResult{Description: "Choose a zoo model for a dataset and a task",
		Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}}}, nil
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return oneLine(s, n)
	}
	return s
}
