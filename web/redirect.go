package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo/blob"
)

// Redirect configures redirects of large downloads to the blob store
// (Options.Redirect): in a scaled-out deployment the bytes of a package or
// file then go from S3 to the client, not through a replica.
//
// A download is redirected (302 Found to a presigned URL, valid for TTL)
// only when all of these hold:
//
//   - it is a GET (HEAD is answered here: it costs no bytes);
//   - the version is published or retired: a presigned URL is a bearer
//     capability until it expires, so drafts and versions under review,
//     which only some callers may read, are always served here — and the
//     caller's right to read the version was checked before, as for every
//     download;
//   - the request has no conditional header (If-None-Match, If-Match,
//     If-Range, If-Modified-Since, If-Unmodified-Since): those are
//     answered here with zoo's ETag (the SHA-256), which the store does
//     not know — its own ETag is an MD5. A client resuming with
//     "Range + If-Range: <sha256>" is therefore served here, and a plain
//     Range request is redirected (presigned GETs honour Range);
//   - the file is at least MinBytes long.
//
// The redirect carries zoo's ETag and Cache-Control: private, no-store
// (the URL expires); the store answers with the same Content-Type,
// Content-Disposition and Cache-Control as this server would (S3's
// response-* overrides). A redirected GET whose range starts at byte 0
// (or has none) counts as a download when the redirect is sent: the
// server does not see the transfer end.
type Redirect struct {
	Presigner blob.Presigner
	MinBytes  int64         // smallest redirected download (0: 8 MiB)
	TTL       time.Duration // validity of the presigned URL (0: 10 minutes)
}

var conditionalHeaders = []string{"If-None-Match", "If-Match", "If-Range", "If-Modified-Since", "If-Unmodified-Since"}

// redirect answers r with a redirect to the blob store when the rules of
// Redirect allow; it reports whether it answered.
func (s *server) redirect(w http.ResponseWriter, r *http.Request, d download) bool {
	rd := s.opts.Redirect
	if rd.Presigner == nil || r.Method != http.MethodGet || !d.v.State.Public() {
		return false
	}
	minBytes := rd.MinBytes
	if minBytes <= 0 {
		minBytes = 8 << 20
	}
	if d.size < minBytes {
		return false
	}
	for _, h := range conditionalHeaders {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	ttl := rd.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	u, err := rd.Presigner.PresignDownload(r.Context(), d.sha256, ttl, blob.Response{
		ContentType: d.ctype, ContentDisposition: d.disposition(), CacheControl: d.cacheControl()})
	if err != nil {
		// Serving it here still works.
		s.log.Warn("cannot sign a download URL; serving it through this process", "request_id", requestID(r.Context()), "err", err)
		return false
	}
	h := w.Header()
	h.Set("ETag", `"`+d.sha256+`"`)
	h.Set("Cache-Control", "private, no-store")
	h.Set("Location", u)
	w.WriteHeader(http.StatusFound)
	if d.counts && startsAtZero(r) {
		if silent, err := flag(r.URL.Query(), "silent"); err == nil && !silent {
			if err := s.svc.CountDownload(context.WithoutCancel(r.Context()), d.v); err != nil {
				s.log.Warn("download not counted", "request_id", requestID(r.Context()), "id", d.v.ModelID, "version", d.v.Number, "err", err)
			}
		}
	}
	return true
}

// startsAtZero reports whether r asks for the whole content or a range
// from byte 0.
func startsAtZero(r *http.Request) bool {
	rg := strings.TrimSpace(r.Header.Get("Range"))
	if rg == "" {
		return true
	}
	spec, ok := strings.CutPrefix(rg, "bytes=")
	return ok && strings.HasPrefix(strings.TrimSpace(spec), "0-")
}
