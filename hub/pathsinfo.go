package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/web"
)

// Limits of a paths-info request.
const (
	maxPathsBody = 1 << 20 // bytes of the request body
	maxPaths     = 1000    // paths in one request
	maxPathLen   = 1024    // bytes of one path
)

// PathInfo is one answer of paths-info: a file (with its LFS information
// when the file is LFS-like) or a folder; LastCommit is set when the
// request asked to expand.
type PathInfo struct {
	Type       string          `json:"type"` // "file" or "directory"
	Path       string          `json:"path"`
	OID        string          `json:"oid"`
	Size       int64           `json:"size"`
	LFS        *TreeLFS        `json:"lfs,omitempty"`
	LastCommit *PathInfoCommit `json:"lastCommit,omitempty"`
}

// PathInfoCommit is the commit that last changed a path: here the
// version itself.
type PathInfoCommit struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

// pathsInfoRequest is the body of POST …/paths-info/{rev}: JSON
// {"paths": [...], "expand": bool} (the JS client) or a form with
// repeated paths and expand (huggingface_hub).
type pathsInfoRequest struct {
	Paths  []string `json:"paths"`
	Expand bool     `json:"expand"`
}

// pathsInfo serves POST /api/models/{id}/paths-info/{rev}: for each
// requested path that is a file or a folder of the revision, its entry
// (the same oid, size and lfs as the tree listing); paths that exist
// nowhere are left out, as the Hub does.
func (h *Handler) pathsInfo(w http.ResponseWriter, r *http.Request) {
	v, code, err := h.revision(r.Context(), r.PathValue("id"), r.PathValue("rev"))
	if err != nil {
		hubFail(w, r, code, err)
		return
	}
	req, err := readPathsInfo(r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	out := []PathInfo{}
	var commit *PathInfoCommit
	if req.Expand {
		pub := v.CreatedAt
		if v.PublishedAt != nil {
			pub = *v.PublishedAt
		}
		commit = &PathInfoCommit{ID: Commit(v), Title: "version " + strconv.Itoa(v.Number), Date: pub.UTC().Format(hubTime)}
	}
	seen := map[string]bool{}
	for _, p := range req.Paths {
		p = strings.Trim(p, "/")
		if seen[p] {
			continue
		}
		seen[p] = true
		if f, ok := fileAt(v, p); ok {
			e := PathInfo{Type: "file", Path: f.Path, OID: f.SHA256[:min(40, len(f.SHA256))], Size: f.Size, LastCommit: commit}
			if h.lfsLike(v, f) {
				e.LFS = &TreeLFS{OID: f.SHA256, Size: f.Size, PointerSize: pointerSize(f.Size)}
			}
			out = append(out, e)
			continue
		}
		if p == "" {
			continue
		}
		for _, f := range v.Files {
			if strings.HasPrefix(f.Path, p+"/") {
				sum := sha256.Sum256([]byte(Commit(v) + "\x00" + p))
				out = append(out, PathInfo{Type: "directory", Path: p, OID: hex.EncodeToString(sum[:20]), LastCommit: commit})
				break
			}
		}
	}
	w.Header().Set("X-Repo-Commit", Commit(v))
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, out)
}

// fileAt returns the file of v at path p.
func fileAt(v *zoo.Version, p string) (zoo.File, bool) {
	for _, f := range v.Files {
		if f.Path == p {
			return f, true
		}
	}
	return zoo.File{}, false
}

// readPathsInfo reads a paths-info body within the limits.
func readPathsInfo(r *http.Request) (pathsInfoRequest, error) {
	const op = "hub.pathsInfo"
	var req pathsInfoRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPathsBody+1))
	if err != nil {
		return req, zoo.E(op, zoo.Invalid, err, "the request body could not be read")
	}
	if len(body) > maxPathsBody {
		return req, zoo.E(op, zoo.TooLarge, nil, "the request body is larger than %d bytes", maxPathsBody)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return req, zoo.E(op, zoo.Invalid, err, "the form body does not parse")
		}
		req.Paths = q["paths"]
		switch strings.ToLower(q.Get("expand")) {
		case "", "false", "0":
		case "true", "1":
			req.Expand = true
		default:
			return req, zoo.E(op, zoo.Invalid, nil, "expand is true or false")
		}
	default: // JSON, as the JS client sends (with Content-Type application/json)
		if err := json.Unmarshal(body, &req); err != nil {
			return req, zoo.E(op, zoo.Invalid, err, `the body is not {"paths": [...], "expand": true|false}`)
		}
	}
	if len(req.Paths) > maxPaths {
		return req, zoo.E(op, zoo.Invalid, nil, "ask for at most %d paths at once", maxPaths)
	}
	for _, p := range req.Paths {
		if len(p) > maxPathLen {
			return req, zoo.E(op, zoo.Invalid, nil, "a path is longer than %d bytes", maxPathLen)
		}
	}
	return req, nil
}
