package hub

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/web"
)

// Limits of the list query.
const (
	MaxLimit     = 1000 // models per page
	DefaultLimit = 100
	maxParam     = 256 // bytes of search, author, a filter value
	maxFilters   = 20
	maxExpand    = 64 // expand values (the JS client sends about 20)
)

// listQuery is a parsed GET /api/models query.
type listQuery struct {
	Search  string   // substring of id or name, case-insensitive
	Author  string   // owner's user name, case-insensitive
	Filters []string // tags that must all be present
	Library string   // "" or the library name; only "bioimageio" matches
	Sort    string   // id, downloads, lastModified, createdAt, likes
	Desc    bool
	Limit   int
	Full    bool
	Offset  int
}

// parseListQuery reads the Hub's list parameters. expand=siblings (the
// JS client's additionalFields ["filePaths"]) is full=true; other expand
// values and parameters the Hub knows but that mean nothing here (config,
// cardData, …) are ignored.
func parseListQuery(q url.Values) (listQuery, error) {
	const op = "hub.list"
	lq := listQuery{Sort: "id", Limit: DefaultLimit}
	bad := func(format string, args ...any) (listQuery, error) {
		return listQuery{}, zoo.E(op, zoo.Invalid, nil, format, args...)
	}
	one := func(name string) (string, error) {
		vs := q[name]
		if len(vs) > 1 {
			return "", zoo.E(op, zoo.Invalid, nil, "give %s once", name)
		}
		if len(vs) == 0 {
			return "", nil
		}
		if len(vs[0]) > maxParam {
			return "", zoo.E(op, zoo.Invalid, nil, "%s is longer than %d bytes", name, maxParam)
		}
		return vs[0], nil
	}
	var err error
	if lq.Search, err = one("search"); err != nil {
		return listQuery{}, err
	}
	if lq.Author, err = one("author"); err != nil {
		return listQuery{}, err
	}
	if lq.Library, err = one("library"); err != nil {
		return listQuery{}, err
	}
	for _, f := range q["filter"] {
		for _, t := range strings.Split(f, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			if len(t) > maxParam || len(lq.Filters) == maxFilters {
				return bad("give at most %d filter tags of at most %d bytes", maxFilters, maxParam)
			}
			lq.Filters = append(lq.Filters, t)
		}
	}
	s, err := one("sort")
	if err != nil {
		return listQuery{}, err
	}
	switch s {
	case "", "id", "modelId":
	case "downloads", "lastModified", "createdAt", "likes", "trending", "trendingScore":
		lq.Sort, lq.Desc = s, true // the Hub sorts these descending
	default:
		return bad("sort %q is not one of id, downloads, lastModified, createdAt, likes", s)
	}
	if lq.Sort == "trending" || lq.Sort == "trendingScore" || lq.Sort == "likes" {
		lq.Sort = "downloads"
	}
	d, err := one("direction")
	if err != nil {
		return listQuery{}, err
	}
	switch d {
	case "":
	case "-1":
		lq.Desc = true
	case "1":
		lq.Desc = false
	default:
		return bad("direction is -1 (descending) or 1 (ascending), not %q", d)
	}
	l, err := one("limit")
	if err != nil {
		return listQuery{}, err
	}
	if l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return bad("limit is a positive number, not %q", l)
		}
		lq.Limit = min(n, MaxLimit)
	}
	f, err := one("full")
	if err != nil {
		return listQuery{}, err
	}
	switch strings.ToLower(f) {
	case "", "false", "0":
	case "true", "1":
		lq.Full = true
	default:
		return bad("full is true or false, not %q", f)
	}
	if len(q["expand"]) > maxExpand {
		return bad("give at most %d expand values", maxExpand)
	}
	for _, e := range q["expand"] {
		if e == "siblings" {
			lq.Full = true
		}
	}
	c, err := one("cursor")
	if err != nil {
		return listQuery{}, err
	}
	if c != "" {
		var ok bool
		if lq.Offset, ok = decodeCursor(c); !ok {
			return bad("the cursor is not one this server gave; start without it")
		}
	}
	return lq, nil
}

// list serves GET /api/models: the latest published (else retired) version
// of every model, filtered and sorted, one page at a time with a Link
// header (rel="next") to the next page.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	lq, err := parseListQuery(r.URL.Query())
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	out := []ModelInfo{}
	if lq.Library != "" && !strings.EqualFold(lq.Library, "bioimageio") {
		web.WriteJSON(w, http.StatusOK, out)
		return
	}
	cat := h.svc.Catalog()
	models, err := cat.ListModels(ctx, true)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	vs, err := cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StatePublished, zoo.StateRetired}})
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	head := map[string]*zoo.Version{}
	for _, v := range vs {
		if v.State.Public() && better(v, head[v.ModelID]) {
			head[v.ModelID] = v
		}
	}
	owners := map[int64]string{}
	search := strings.ToLower(lq.Search)
	for _, m := range models {
		v := head[m.ID]
		if v == nil {
			continue
		}
		name, ok := owners[m.OwnerID]
		if !ok {
			if u, err := cat.UserByID(ctx, m.OwnerID); err == nil {
				name = u.Name
			}
			owners[m.OwnerID] = name
		}
		if lq.Author != "" && !strings.EqualFold(lq.Author, name) {
			continue
		}
		info := h.modelInfo(ctx, m, v, lq.Full)
		info.Author = name
		if search != "" && !strings.Contains(strings.ToLower(m.ID), search) && !strings.Contains(strings.ToLower(h.name(r, v)), search) {
			continue
		}
		if !containsAll(info.Tags, lq.Filters) {
			continue
		}
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b ModelInfo) int {
		var c int
		switch lq.Sort {
		case "downloads":
			c = cmp.Compare(a.Downloads, b.Downloads)
		case "lastModified":
			c = strings.Compare(a.LastModified, b.LastModified)
		case "createdAt":
			c = strings.Compare(a.CreatedAt, b.CreatedAt)
		}
		if lq.Desc {
			c = -c
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	})
	start := min(lq.Offset, len(out))
	end := min(start+lq.Limit, len(out))
	if end < len(out) {
		q := r.URL.Query()
		q.Set("cursor", encodeCursor(end))
		w.Header().Set("Link", "<"+h.base(r)+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	w.Header().Set("Cache-Control", "public, no-cache")
	web.WriteJSON(w, http.StatusOK, out[start:end])
}

// better reports whether v is a better head than cur: published beats
// retired, then the higher number.
func better(v, cur *zoo.Version) bool {
	if cur == nil {
		return true
	}
	if vp, cp := v.State == zoo.StatePublished, cur.State == zoo.StatePublished; vp != cp {
		return vp
	}
	return v.Number > cur.Number
}

// name is the version's display name (description name, else the record's).
func (h *Handler) name(r *http.Request, v *zoo.Version) string {
	if d, err := h.svc.Description(r.Context(), v); err == nil && d.Name != "" {
		return d.Name
	}
	return v.Name
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			return false
		}
	}
	return true
}
