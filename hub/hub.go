// Package hub serves the read side of the Hugging Face Hub HTTP API, so
// that existing Hub clients (huggingface_hub's hf_hub_download and
// snapshot_download, the hf-hub Rust crate, transformers.js, …) download a
// zoo instance's published models unmodified, pointed at it with
// HF_ENDPOINT=https://HOST/hf or HF_ENDPOINT=https://HOST.
//
// Routes (all anonymous: an Authorization header, e.g. a client's own
// HF_TOKEN, is ignored, and only published and retired versions are
// visible):
//
//	GET /hf/api/models                             list (search, author, filter, sort, direction, limit, full, cursor)
//	GET /hf/api/models/{id}                        model info of the latest published version ("main")
//	GET /hf/api/models/{id}/revision/{rev}         model info of a revision
//	GET /hf/api/models/{id}/tree/{rev}[/{path...}]  files and folders (recursive=true for all)
//	POST /hf/api/models/{id}/paths-info/{rev}      the entries of given paths ({"paths": [...], "expand": bool} or a form)
//	GET|HEAD /hf/{id}/resolve/{rev}/{path...}      a file of a revision
//	GET|HEAD /hf/{id}/lfs/{commit}/{path...}       the bytes of a large file (the redirect target)
//	GET|HEAD /hf/{id}/raw/{rev}/{path...}          the git view: a small file, or a large file's git-lfs pointer
//
// The /api/models routes (list, info, tree, paths-info) are also mounted at
// the root (/api/models…), and the Hub's root-level download URL
// /{repo_id}/resolve/{rev}/{path...} is answered by Root, a
// web.Options.Fallback: a ServeMux pattern beginning with a wildcard would
// clash with the server's other routes (/files/{id}/{n}/{path...} and those
// of the web pages), so it is matched after them.
//
// Mapping. A repository is a model (repo_id = model id); a revision is a
// version: "main" (also "HEAD", "refs/heads/main") is the latest published one, "N" or "vN" version N, and
// the commit id of a version is the first 40 hex digits of its package's
// SHA-256 (immutable, content-derived), which is what model info reports as
// "sha" and the resolve answers as X-Repo-Commit; clients then fetch by that
// commit. Files are the version's package files (the description, weights,
// test tensors, covers, documentation).
//
// Resolve answers as the Hub does: small files directly (200, ETag the
// quoted SHA-256, Content-Length, Range); "LFS-like" files — weights and
// anything of Options.LFSThreshold bytes or more — with 302 to the /lfs
// route (absolute Location) carrying X-Linked-Etag (the SHA-256) and
// X-Linked-Size, the headers clients read before they follow. Every resolve
// answer carries X-Repo-Commit. Errors carry the Hub's X-Error-Code
// (RepoNotFound, RevisionNotFound, EntryNotFound) with a problem document.
//
// Downloads are counted by repo.Counts's rule: a whole GET of a weights
// file (through /lfs); HEAD requests and metadata files do not count.
package hub

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// Prefix is where the Hub-compatible routes live (HF_ENDPOINT=BASE+Prefix).
const Prefix = "/hf"

// Options configure the endpoints.
type Options struct {
	// Base is the public base URL; "" means each request's scheme and host.
	Base string
	// LFSThreshold is the size from which a file is served by redirect
	// (default 10 MiB, the Hub's own limit for plain git files).
	LFSThreshold int64
}

// Handler serves the routes.
type Handler struct {
	svc  *repo.Service
	opts Options
}

// New returns the handler over a repository service.
func New(svc *repo.Service, opts Options) *Handler {
	if opts.LFSThreshold <= 0 {
		opts.LFSThreshold = 10 << 20
	}
	opts.Base = strings.TrimRight(opts.Base, "/")
	return &Handler{svc: svc, opts: opts}
}

// Root serves the Hub's file routes at the server's root,
// GET|HEAD /{id}/{resolve,raw,lfs}/{rev}/{path...}, so that
// HF_ENDPOINT=BASE works as well as BASE/hf. It is a web.Options.Fallback
// (a ServeMux pattern of that shape clashes with /files/{id}/{n}/{path...}):
// it answers only requests of that shape and returns false for everything
// else.
func (h *Handler) Root(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 4)
	if len(parts) != 4 || parts[0] == "" || parts[2] == "" || parts[3] == "" {
		return false
	}
	r.SetPathValue("id", parts[0])
	r.SetPathValue("path", parts[3])
	switch parts[1] {
	case "resolve":
		r.SetPathValue("rev", parts[2])
		h.resolve(w, r)
	case "raw":
		r.SetPathValue("rev", parts[2])
		h.raw(w, r)
	case "lfs":
		r.SetPathValue("commit", parts[2])
		h.lfs(w, r)
	default:
		return false
	}
	return true
}

// Routes returns the routes to mount (web.Options.Routes).
func (h *Handler) Routes() []web.Route {
	list, info := http.HandlerFunc(h.list), http.HandlerFunc(h.info)
	tree, paths := http.HandlerFunc(h.tree), http.HandlerFunc(h.pathsInfo)
	return []web.Route{
		{Pattern: "GET /api/models", Handler: list, Doc: docList},
		{Pattern: "GET /api/models/{id}", Handler: info, Doc: docInfo},
		{Pattern: "GET /api/models/{id}/revision/{rev}", Handler: info, Doc: docInfoRev},
		{Pattern: "GET /api/models/{id}/tree/{rev}", Handler: tree, Doc: docTree},
		{Pattern: "GET /api/models/{id}/tree/{rev}/{path...}", Handler: tree, Doc: docTreePath},
		{Pattern: "POST /api/models/{id}/paths-info/{rev}", Handler: paths, Doc: docPathsInfo},
		{Pattern: "GET " + Prefix + "/api/models", Handler: list},
		{Pattern: "GET " + Prefix + "/api/models/{id}", Handler: info},
		{Pattern: "GET " + Prefix + "/api/models/{id}/revision/{rev}", Handler: info},
		{Pattern: "GET " + Prefix + "/api/models/{id}/tree/{rev}", Handler: tree},
		{Pattern: "GET " + Prefix + "/api/models/{id}/tree/{rev}/{path...}", Handler: tree},
		{Pattern: "POST " + Prefix + "/api/models/{id}/paths-info/{rev}", Handler: paths},
		{Pattern: "GET " + Prefix + "/{id}/resolve/{rev}/{path...}", Handler: http.HandlerFunc(h.resolve)},
		{Pattern: "GET " + Prefix + "/{id}/lfs/{commit}/{path...}", Handler: http.HandlerFunc(h.lfs)},
		{Pattern: "GET " + Prefix + "/{id}/raw/{rev}/{path...}", Handler: http.HandlerFunc(h.raw)},
	}
}

// base is the public base URL for a request (see web.BaseURL).
func (h *Handler) base(r *http.Request) string { return web.BaseURL(r, h.opts.Base) }

// Commit is the commit id of a version: the first 40 hex digits of its
// package's SHA-256.
func Commit(v *zoo.Version) string {
	if len(v.PackageSHA256) >= 40 {
		return v.PackageSHA256[:40]
	}
	return fmt.Sprintf("%040x", v.Number) // no package: never the case for published versions
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// hubError is a failure with the Hub's X-Error-Code.
func hubFail(w http.ResponseWriter, r *http.Request, code string, err error) {
	if code != "" && zoo.KindOf(err) == zoo.NotFound {
		w.Header().Set("X-Error-Code", code)
		w.Header().Set("X-Error-Message", zoo.MessageOf(err))
	}
	web.Fail(w, r, err)
}

// revision finds the version a revision names, as an anonymous caller sees
// it. Errors are NotFound with the matching Hub error code.
func (h *Handler) revision(ctx context.Context, id, rev string) (*zoo.Version, string, error) {
	const op = "hub.revision"
	if len(id) > 200 || len(rev) > 200 {
		return nil, "RepoNotFound", zoo.E(op, zoo.NotFound, nil, "no such model or revision")
	}
	switch {
	case rev == "main" || rev == "" || rev == "HEAD" || rev == "refs/heads/main":
		v, err := h.svc.Get(ctx, nil, id, 0)
		return v, "RepoNotFound", err
	case commitRE.MatchString(rev):
		vs, err := h.svc.Versions(ctx, nil, id)
		if err != nil {
			return nil, "RepoNotFound", err
		}
		for _, v := range vs {
			if v.State.Public() && Commit(v) == rev {
				return v, "", nil
			}
		}
		if len(vs) == 0 {
			return nil, "RepoNotFound", zoo.E(op, zoo.NotFound, nil, "model %s has no published version", id)
		}
		return nil, "RevisionNotFound", zoo.E(op, zoo.NotFound, nil, "model %s has no revision %s; use main, a version number or a commit id from the model info", id, rev)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rev, "v"))
	if err != nil || n <= 0 {
		if _, err := h.svc.Get(ctx, nil, id, 0); err != nil {
			return nil, "RepoNotFound", err
		}
		return nil, "RevisionNotFound", zoo.E(op, zoo.NotFound, nil, "revision %q is not main, a version number or a commit id", rev)
	}
	v, err := h.svc.Get(ctx, nil, id, n)
	if err != nil && zoo.KindOf(err) == zoo.NotFound {
		if _, err2 := h.svc.Get(ctx, nil, id, 0); err2 == nil {
			return nil, "RevisionNotFound", err
		}
		return nil, "RepoNotFound", err
	}
	return v, "", err
}

// Sibling is a file in model info.
type Sibling struct {
	RFilename string   `json:"rfilename"`
	Size      int64    `json:"size"`
	BlobID    string   `json:"blobId"`
	LFS       *LFSInfo `json:"lfs,omitempty"`
}

// LFSInfo describes a large file as the Hub does: its SHA-256, size and
// the size of the git-lfs pointer file that would stand for it.
type LFSInfo struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

// pointerSize is the length of a git-lfs pointer file for a blob.
func pointerSize(size int64) int {
	return len(lfsPointer(zoo.File{SHA256: strings.Repeat("0", 64), Size: size}))
}

// ModelInfo is the Hub's model info (the fields clients read).
type ModelInfo struct {
	ObjectID     string         `json:"_id"`
	ID           string         `json:"id"`
	ModelID      string         `json:"modelId"`
	Author       string         `json:"author,omitempty"`
	SHA          string         `json:"sha"`
	LastModified string         `json:"lastModified"`
	CreatedAt    string         `json:"createdAt"`
	Private      bool           `json:"private"`
	Disabled     bool           `json:"disabled"`
	Gated        bool           `json:"gated"`
	Downloads    int64          `json:"downloads"`
	Likes        int            `json:"likes"`
	Tags         []string       `json:"tags"`
	LibraryName  string         `json:"library_name"`
	CardData     map[string]any `json:"cardData,omitempty"`
	Siblings     []Sibling      `json:"siblings,omitempty"`
	UsedStorage  int64          `json:"usedStorage,omitempty"`
	// Zoo-specific: the version a revision resolved to.
	Version int `json:"zoo_version"`
}

const hubTime = "2006-01-02T15:04:05.000Z"

func (h *Handler) lfsLike(v *zoo.Version, f zoo.File) bool {
	return repo.Counts(v, f.Path) || f.Size >= h.opts.LFSThreshold
}

// modelInfo builds the info of a version; siblings only when full.
func (h *Handler) modelInfo(ctx context.Context, m *zoo.Model, v *zoo.Version, full bool) ModelInfo {
	var desc *spec.Model
	if d, err := h.svc.Description(ctx, v); err == nil {
		desc = d
	}
	pub := v.CreatedAt
	if v.PublishedAt != nil {
		pub = *v.PublishedAt
	}
	created := v.CreatedAt
	if m != nil {
		created = m.CreatedAt
	}
	info := ModelInfo{ObjectID: Commit(v)[:24], ID: v.ModelID, ModelID: v.ModelID, SHA: Commit(v),
		LastModified: pub.UTC().Format(hubTime), CreatedAt: created.UTC().Format(hubTime),
		Tags: []string{"bioimageio"}, LibraryName: "bioimageio", Version: v.Number}
	if m != nil {
		info.Downloads = m.Downloads
	}
	card := map[string]any{"library_name": "bioimageio"}
	if desc != nil {
		for _, t := range desc.Tags {
			if t != "" && !slices.Contains(info.Tags, t) {
				info.Tags = append(info.Tags, t)
			}
		}
		if desc.License != "" {
			info.Tags = append(info.Tags, "license:"+strings.ToLower(desc.License))
			card["license"] = strings.ToLower(desc.License)
		}
		card["tags"] = desc.Tags
	}
	if v.State == zoo.StateRetired {
		card["zoo_retired"] = cmp.Or(v.RetiredReason, "retired")
	}
	info.CardData = card
	if full {
		info.Siblings = []Sibling{}
		for _, f := range v.Files {
			s := Sibling{RFilename: f.Path, Size: f.Size, BlobID: f.SHA256[:min(40, len(f.SHA256))]}
			if h.lfsLike(v, f) {
				s.LFS = &LFSInfo{SHA256: f.SHA256, Size: f.Size, PointerSize: pointerSize(f.Size)}
			}
			info.Siblings = append(info.Siblings, s)
			info.UsedStorage += f.Size
		}
	}
	return info
}

// info serves model info (GET /api/models/{id}[/revision/{rev}]).
func (h *Handler) info(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, code, err := h.revision(ctx, r.PathValue("id"), r.PathValue("rev"))
	if err != nil {
		hubFail(w, r, code, err)
		return
	}
	m, err := h.svc.Catalog().Model(ctx, v.ModelID)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	info := h.modelInfo(ctx, m, v, true)
	if u, err := h.svc.Catalog().UserByID(ctx, m.OwnerID); err == nil {
		info.Author = u.Name
	}
	w.Header().Set("Cache-Control", "public, no-cache")
	web.WriteJSON(w, http.StatusOK, info)
}

// resolve serves GET|HEAD /hf/{id}/resolve/{rev}/{path...}.
func (h *Handler) resolve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, code, err := h.revision(ctx, r.PathValue("id"), r.PathValue("rev"))
	if err != nil {
		hubFail(w, r, code, err)
		return
	}
	f, err := repo.FileOf(v, r.PathValue("path"))
	if err != nil {
		hubFail(w, r, "EntryNotFound", err)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Repo-Commit", Commit(v))
	hdr.Set("Access-Control-Expose-Headers", "X-Repo-Commit, X-Linked-Etag, X-Linked-Size, ETag, Location, Content-Length, Accept-Ranges, Content-Range")
	if h.lfsLike(v, f) {
		hdr.Set("X-Linked-Etag", `"`+f.SHA256+`"`)
		hdr.Set("X-Linked-Size", strconv.FormatInt(f.Size, 10))
		hdr.Set("ETag", `"`+f.SHA256+`"`)
		hdr.Set("Location", h.base(r)+lfsPath(v, f.Path))
		if r.PathValue("rev") == Commit(v) {
			hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hdr.Set("Cache-Control", "public, no-cache")
		}
		w.WriteHeader(http.StatusFound)
		return
	}
	h.serve(w, r, v, f, r.PathValue("rev") == Commit(v), false)
}

// raw serves GET|HEAD /hf/{id}/raw/{rev}/{path...} as the Hub does: the
// file as git stores it — small files themselves, LFS-like files as their
// git-lfs pointer text.
func (h *Handler) raw(w http.ResponseWriter, r *http.Request) {
	v, code, err := h.revision(r.Context(), r.PathValue("id"), r.PathValue("rev"))
	if err != nil {
		hubFail(w, r, code, err)
		return
	}
	f, err := repo.FileOf(v, r.PathValue("path"))
	if err != nil {
		hubFail(w, r, "EntryNotFound", err)
		return
	}
	w.Header().Set("X-Repo-Commit", Commit(v))
	if !h.lfsLike(v, f) {
		h.serve(w, r, v, f, r.PathValue("rev") == Commit(v), false)
		return
	}
	// The pointer text, with Range and conditional requests like any file
	// (clients probe with Range: bytes=0-0 and read the size from
	// Content-Range).
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("ETag", `"`+f.SHA256+`-pointer"`)
	hdr.Set("Cache-Control", "public, no-cache")
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(lfsPointer(f)))
}

// lfsPointer is the git-lfs pointer file of a blob.
func lfsPointer(f zoo.File) string {
	return "version https://git-lfs.github.com/spec/v1\noid sha256:" + f.SHA256 + "\nsize " + strconv.FormatInt(f.Size, 10) + "\n"
}

func lfsPath(v *zoo.Version, p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return Prefix + "/" + url.PathEscape(v.ModelID) + "/lfs/" + Commit(v) + "/" + strings.Join(segs, "/")
}

// lfs serves GET|HEAD /hf/{id}/lfs/{commit}/{path...}: the bytes of a file
// of the version with that commit, counted as a download by repo.Counts's
// rule.
func (h *Handler) lfs(w http.ResponseWriter, r *http.Request) {
	commit := r.PathValue("commit")
	if !commitRE.MatchString(commit) {
		hubFail(w, r, "RevisionNotFound", zoo.E("hub.lfs", zoo.NotFound, nil, "%q is not a commit id", commit))
		return
	}
	v, code, err := h.revision(r.Context(), r.PathValue("id"), commit)
	if err != nil {
		hubFail(w, r, code, err)
		return
	}
	f, err := repo.FileOf(v, r.PathValue("path"))
	if err != nil {
		hubFail(w, r, "EntryNotFound", err)
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	w.Header().Set("X-Linked-Etag", `"`+f.SHA256+`"`)
	w.Header().Set("X-Linked-Size", strconv.FormatInt(f.Size, 10))
	h.serve(w, r, v, f, true, repo.Counts(v, f.Path))
}

// serve writes a file's bytes with http.ServeContent (Range, If-Range,
// If-None-Match, HEAD) and counts a whole GET when counts is set.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, v *zoo.Version, f zoo.File, immutable, counts bool) {
	b, err := h.svc.Blobs().Open(r.Context(), f.SHA256)
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			err = zoo.E("hub.serve", zoo.Internal, err, "the stored file is missing")
		}
		web.Fail(w, r, err)
		return
	}
	defer b.Close()
	hdr := w.Header()
	hdr.Set("ETag", `"`+f.SHA256+`"`)
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Disposition", `attachment; filename="`+safeName(path.Base(f.Path))+`"`)
	if immutable {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "public, no-cache")
	}
	if f.Size == 0 && r.Header.Get("Range") != "" {
		// No range of an empty file exists (ServeContent would answer 416);
		// the Hub's clients probe every file with Range: bytes=0-0 and
		// read its size from Content-Range: the whole (empty) file, with
		// its size.
		hdr.Set("Content-Range", "bytes */0")
		hdr.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	sw := &countingWriter{ResponseWriter: w}
	http.ServeContent(sw, r, "", time.Time{}, b)
	if counts && r.Method == http.MethodGet && sw.whole(r) {
		if err := h.svc.CountDownload(context.WithoutCancel(r.Context()), v); err != nil {
			_ = err // counting is best effort; the download itself succeeded
		}
	}
}

// safeName keeps a file name to characters safe in a quoted header value.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}

// countingWriter records the status and the bytes written.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
	c.ResponseWriter.WriteHeader(s)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// whole reports whether the answer was the whole file: 200, or 206 to a
// range starting at byte 0, with every byte sent.
func (c *countingWriter) whole(r *http.Request) bool {
	switch c.status {
	case http.StatusOK:
	case http.StatusPartialContent:
		spec, ok := strings.CutPrefix(strings.TrimSpace(r.Header.Get("Range")), "bytes=")
		if !ok || !strings.HasPrefix(strings.TrimSpace(spec), "0-") {
			return false
		}
	default:
		return false
	}
	n, err := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
	return err == nil && c.n == n
}

// encodeCursor and decodeCursor make the list's opaque paging cursor.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func decodeCursor(s string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(b), "o:") {
		return 0, false
	}
	return n, true
}
