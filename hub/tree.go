package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// TreeEntry is one entry of the Hub's tree listing.
type TreeEntry struct {
	Type string   `json:"type"` // "file" or "directory"
	OID  string   `json:"oid"`
	Size int64    `json:"size"`
	Path string   `json:"path"`
	LFS  *TreeLFS `json:"lfs,omitempty"`
}

// TreeLFS is a tree entry's LFS information.
type TreeLFS struct {
	OID         string `json:"oid"` // the SHA-256
	Size        int64  `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

// tree serves GET /hf/api/models/{id}/tree/{rev}[/{path...}]: the files
// and folders directly in path (the package root when absent), or every
// one below it with recursive=true, sorted by path. A file's oid is the
// first 40 hex digits of its SHA-256; a folder's is derived from the commit
// and its path.
func (h *Handler) tree(w http.ResponseWriter, r *http.Request) {
	v, code, err := h.revision(r.Context(), r.PathValue("id"), r.PathValue("rev"))
	if err != nil {
		hubFail(w, r, code, err)
		return
	}
	q := r.URL.Query()
	recursive := q.Get("recursive") == "true" || q.Get("recursive") == "1"
	dir := strings.Trim(r.PathValue("path"), "/")
	entries, found := h.entries(v, dir, recursive)
	if !found {
		if _, err := repo.FileOf(v, dir); err == nil {
			hubFail(w, r, "EntryNotFound", zoo.E("hub.tree", zoo.NotFound, nil, "%s is a file, not a folder", dir))
			return
		}
		hubFail(w, r, "EntryNotFound", zoo.E("hub.tree", zoo.NotFound, nil, "%s/%d has no folder %q", v.ModelID, v.Number, dir))
		return
	}
	w.Header().Set("X-Repo-Commit", Commit(v))
	w.Header().Set("Cache-Control", "public, no-cache")
	web.WriteJSON(w, http.StatusOK, entries)
}

// entries lists the tree below dir ("" = the root); found is false when
// no file lies below dir.
func (h *Handler) entries(v *zoo.Version, dir string, recursive bool) (entries []TreeEntry, found bool) {
	entries = []TreeEntry{}
	dirs := map[string]bool{}
	found = dir == ""
	for _, f := range v.Files {
		rel := f.Path
		if dir != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(f.Path, dir+"/"); !ok {
				continue
			}
		}
		found = true
		parts := strings.Split(rel, "/")
		// Folders on the way to the file.
		for i := 1; i < len(parts); i++ {
			if !recursive && i > 1 {
				break
			}
			p := strings.Join(parts[:i], "/")
			if dir != "" {
				p = dir + "/" + p
			}
			if !dirs[p] {
				dirs[p] = true
				sum := sha256.Sum256([]byte(Commit(v) + "\x00" + p))
				entries = append(entries, TreeEntry{Type: "directory", OID: hex.EncodeToString(sum[:20]), Path: p})
			}
		}
		if !recursive && len(parts) > 1 {
			continue
		}
		e := TreeEntry{Type: "file", OID: f.SHA256[:min(40, len(f.SHA256))], Size: f.Size, Path: f.Path}
		if h.lfsLike(v, f) {
			e.LFS = &TreeLFS{OID: f.SHA256, Size: f.Size, PointerSize: pointerSize(f.Size)}
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b TreeEntry) int { return strings.Compare(a.Path, b.Path) })
	return entries, found
}
