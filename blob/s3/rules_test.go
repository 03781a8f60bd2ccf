package s3

// Tests of the rules that keep blobs safe and requests cheap: re-storing
// existing content, garbage collection's age and touch rules, presign
// bounds, a missing bucket. Some run the store behind faultProxy, an
// endpoint in front of the test server that lets a test act between a
// request and its forwarding — fail it, or change the bucket meanwhile as a
// concurrent process would — so that races are tested deterministically.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/blob/blobtest"
)

// traffic runs fn with the client's trace on and returns its requests, one
// "METHOD key" each: keys relative to the store's prefix, sha written SHA,
// temporary keys tmp/*, and a server-side copy as "COPY from to".
func traffic(t *testing.T, s *Store, sha string, fn func()) []string {
	t.Helper()
	var trace bytes.Buffer
	s.client.TraceOn(&trace)
	fn()
	s.client.TraceOff()
	base := "/" + s.bucket + "/" + s.prefix
	short := func(key string) string {
		key = strings.ReplaceAll(strings.TrimPrefix(key, base), sha, "SHA")
		if strings.HasPrefix(key, "tmp/") {
			return "tmp/*"
		}
		return key
	}
	var reqs []string
	inRequest := false
	for line := range strings.Lines(trace.String()) {
		line = strings.TrimRight(line, "\r\n")
		if m, rest, ok := strings.Cut(line, " /"); ok && slices.Contains([]string{"GET", "HEAD", "PUT", "POST", "DELETE"}, m) {
			path, _, _ := strings.Cut(rest, " ")
			path, _, _ = strings.Cut(path, "?")
			reqs = append(reqs, m+" "+short("/"+path))
			inRequest = true
			continue
		}
		if line == "" {
			inRequest = false
		}
		if from, ok := strings.CutPrefix(line, "X-Amz-Copy-Source: "); ok && inRequest {
			last := &reqs[len(reqs)-1]
			_, to, _ := strings.Cut(*last, " ")
			from, _ = url.PathUnescape(from)
			*last = "COPY " + short("/"+from) + " " + to
		}
	}
	return reqs
}

func hexSHA(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func content(seed uint64, size int64) []byte {
	data, _ := io.ReadAll(blobtest.Content(seed, size))
	return data
}

// TestLargePutRequests checks the requests of a Put larger than a part: the
// first uploads to a temporary key and copies it to the blob's key on the
// server; a second Put of the same content copies nothing (a blob can be
// gigabytes) but writes the touch marker that refreshes its age and checks
// the blob is still there.
func TestLargePutRequests(t *testing.T) {
	s := newStore(t)
	data := content(77, PartSize+1)
	sha := hexSHA(data)
	upload := []string{"POST tmp/*", "PUT tmp/*", "PUT tmp/*", "POST tmp/*"}
	for _, c := range []struct {
		what string
		want []string
	}{
		{"first Put", append(slices.Clone(upload), "HEAD blobs/SHA", "COPY tmp/* blobs/SHA", "DELETE tmp/*")},
		{"Put of existing content", append(slices.Clone(upload), "HEAD blobs/SHA", "PUT touched/SHA", "HEAD blobs/SHA", "DELETE tmp/*")},
	} {
		var err error
		got := traffic(t, s, sha, func() { _, _, err = s.Put(t.Context(), bytes.NewReader(data)) })
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s sent\n\t%s\nwant\n\t%s", c.what, strings.Join(got, ", "), strings.Join(c.want, ", "))
		}
	}
	if !bytes.Equal(blobtest.ReadAll(t, s, sha), data) {
		t.Error("the blob reads back differently")
	}
	if left := leftovers(t, s); len(left) > 0 {
		t.Errorf("temporary keys left: %v", left)
	}
}

// TestPutReplacesDamaged: an object under a blob's key whose size is not
// the content's (damaged or truncated outside zoo) is not taken for the
// blob: a Put of the content stores it again, on both paths of Put.
func TestPutReplacesDamaged(t *testing.T) {
	s := newStore(t)
	for _, size := range []int64{1000, PartSize + 1} {
		data := content(uint64(size)+5, size)
		sha := hexSHA(data)
		bad := data[:size/2]
		if _, err := s.client.PutObject(t.Context(), s.bucket, s.blobKey(sha), bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, n, err := s.Put(t.Context(), bytes.NewReader(data)); err != nil || got != sha || n != size {
			t.Fatalf("Put of %d bytes over a damaged object = %s, %d, %v", size, got, n, err)
		}
		if !bytes.Equal(blobtest.ReadAll(t, s, sha), data) {
			t.Errorf("%d-byte blob: the damaged object was kept", size)
		}
	}
}

// TestDeleteOlderRequests checks what garbage collection does to a blob it
// keeps — nothing: two HEADs, no copy, no delete, so that a reader never
// meets a kept blob missing — and that one it collects is copied aside once,
// deleted, and leaves no marker or temporary key.
func TestDeleteOlderRequests(t *testing.T) {
	s := newStore(t)
	kept, old := content(1, 3000), content(2, 4000)
	keptSHA, oldSHA := hexSHA(kept), hexSHA(old)
	for _, d := range [][]byte{kept, old} {
		if _, _, err := s.Put(t.Context(), bytes.NewReader(d)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	// S3 times are whole seconds: both blobs are before cutoff, a re-store
	// from now on at or after it.
	cutoff := time.Now().Truncate(time.Second)
	if _, _, err := s.Put(t.Context(), bytes.NewReader(kept)); err != nil { // re-stored: its marker is fresh
		t.Fatal(err)
	}

	var del bool
	var err error
	got := traffic(t, s, keptSHA, func() { del, err = s.DeleteOlder(t.Context(), keptSHA, cutoff) })
	if err != nil || del {
		t.Fatalf("DeleteOlder(re-stored blob) = %v, %v; want kept", del, err)
	}
	if want := []string{"HEAD blobs/SHA", "HEAD touched/SHA"}; !slices.Equal(got, want) {
		t.Errorf("DeleteOlder of a blob it keeps sent %s, want %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}

	got = traffic(t, s, oldSHA, func() { del, err = s.DeleteOlder(t.Context(), oldSHA, cutoff) })
	if err != nil || !del {
		t.Fatalf("DeleteOlder(old blob) = %v, %v; want deleted", del, err)
	}
	want := []string{"HEAD blobs/SHA", "HEAD touched/SHA", "COPY blobs/SHA tmp/*", "DELETE blobs/SHA", "HEAD touched/SHA", "DELETE touched/SHA", "DELETE tmp/*"}
	if !slices.Equal(got, want) {
		t.Errorf("DeleteOlder of an old blob sent\n\t%s\nwant\n\t%s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	if !bytes.Equal(blobtest.ReadAll(t, s, keptSHA), kept) {
		t.Error("the kept blob changed")
	}
	if left := leftovers(t, s); len(left) > 0 {
		t.Errorf("temporary keys left: %v", left)
	}
}

// faultProxy is an S3 endpoint in front of the test server. hook sees each
// request (method and key relative to the store's prefix) before it is
// forwarded; a status other than 0 answers the request with it instead.
type faultProxy struct {
	mu   sync.Mutex
	hook func(method, key string) int
}

// behindProxy returns a store on direct's bucket and prefix whose requests
// go through a faultProxy, and the proxy.
func behindProxy(t *testing.T, direct *Store) (*Store, *faultProxy) {
	t.Helper()
	target, err := url.Parse("http://" + direct.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	forward := httputil.NewSingleHostReverseProxy(target) // keeps the Host the request was signed for
	base := "/" + direct.bucket + "/" + direct.prefix
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		hook := p.hook
		p.mu.Unlock()
		if hook != nil {
			if status := hook(r.Method, strings.TrimPrefix(r.URL.Path, base)); status != 0 {
				w.WriteHeader(status)
				return
			}
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("endpoint", strings.TrimPrefix(srv.URL, "http://"))
	u.RawQuery, u.Path = q.Encode(), "/"+direct.prefix
	s, err := New(u.String())
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func (p *faultProxy) set(hook func(method, key string) int) {
	p.mu.Lock()
	p.hook = hook
	p.mu.Unlock()
}

// TestPutStoresBlobCollectedMeanwhile: a Put that finds its content stored
// and refreshes it, while a garbage collection deletes that blob between
// the Put's check and its refresh, must store the content anew — it returns
// the key as stored, and the caller will reference it.
func TestPutStoresBlobCollectedMeanwhile(t *testing.T) {
	direct := newStore(t)
	s, proxy := behindProxy(t, direct)
	for _, size := range []int64{3000, PartSize + 1} {
		data := content(uint64(size)+11, size)
		sha := hexSHA(data)
		if _, _, err := direct.Put(t.Context(), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		proxy.set(func(method, key string) int {
			if method == http.MethodPut && key == "touched/"+sha {
				once.Do(func() { // the collection deletes the blob now
					if err := direct.client.RemoveObject(context.Background(), direct.bucket, direct.blobKey(sha), minio.RemoveObjectOptions{}); err != nil {
						t.Error(err)
					}
				})
			}
			return 0
		})
		got, n, err := s.Put(t.Context(), bytes.NewReader(data))
		proxy.set(nil)
		if err != nil || got != sha || n != size {
			t.Fatalf("Put of %d bytes = %s, %d, %v", size, got, n, err)
		}
		if !bytes.Equal(blobtest.ReadAll(t, direct, sha), data) {
			t.Errorf("%d-byte blob: Put returned it stored, but it reads back differently", size)
		}
	}
}

// TestDeleteOlderRestoresBlobReStoredMeanwhile: a Put of a blob's content
// that comes while DeleteOlder is deleting it (after its age check, before
// its delete) finds the blob, refreshes it and returns; DeleteOlder must
// then put the blob back instead of losing what that Put returned.
func TestDeleteOlderRestoresBlobReStoredMeanwhile(t *testing.T) {
	direct := newStore(t)
	s, proxy := behindProxy(t, direct)
	data := content(5, 5000)
	sha := hexSHA(data)
	if _, _, err := direct.Put(t.Context(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	cutoff := time.Now().Truncate(time.Second) // after the blob; the Put below is at or after it
	var once sync.Once
	proxy.set(func(method, key string) int {
		if method == http.MethodDelete && key == "blobs/"+sha {
			once.Do(func() {
				if _, _, err := direct.Put(context.Background(), bytes.NewReader(data)); err != nil {
					t.Errorf("the concurrent Put: %v", err)
				}
			})
		}
		return 0
	})
	del, err := s.DeleteOlder(t.Context(), sha, cutoff)
	proxy.set(nil)
	if err != nil || del {
		t.Errorf("DeleteOlder of a blob re-stored while it ran = %v, %v; want kept", del, err)
	}
	if !bytes.Equal(blobtest.ReadAll(t, direct, sha), data) {
		t.Error("the blob re-stored during DeleteOlder reads back differently")
	}
}

// TestCheckFailureIsNotAbsence: when the server fails a HEAD with an error
// other than not-found, the blob (or its marker) is not taken for absent:
// DeleteOlder and Put fail and the blob stays as it is.
func TestCheckFailureIsNotAbsence(t *testing.T) {
	direct := newStore(t)
	s, proxy := behindProxy(t, direct)
	data := content(6, 6000)
	sha := hexSHA(data)
	if _, _, err := direct.Put(t.Context(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := direct.Put(t.Context(), bytes.NewReader(data)); err != nil { // writes the marker
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour) // the blob is old for this cutoff
	for _, failing := range []string{"touched/", "blobs/"} {
		proxy.set(func(method, key string) int {
			if method == http.MethodHead && strings.HasPrefix(key, failing) {
				return http.StatusInternalServerError
			}
			return 0
		})
		if del, err := s.DeleteOlder(t.Context(), sha, future); err == nil || del {
			t.Errorf("DeleteOlder with HEAD %s failing = %v, %v; want an error", failing, del, err)
		}
		if failing == "blobs/" {
			for _, d := range [][]byte{data, content(6, PartSize+1)} {
				if _, _, err := s.Put(t.Context(), bytes.NewReader(d)); err == nil {
					t.Errorf("Put of %d bytes with HEAD %s failing succeeded; want an error", len(d), failing)
				}
			}
		}
		proxy.set(nil)
		if !bytes.Equal(blobtest.ReadAll(t, direct, sha), data) {
			t.Fatalf("with HEAD %s failing, the blob was lost or changed", failing)
		}
	}
}

// TestReadMissingBucket: a bucket deleted under an open blob is reported
// as a missing bucket (an operator's problem), not as a missing blob (which
// the web layer turns into a 404 for the user).
func TestReadMissingBucket(t *testing.T) {
	u, _ := url.Parse(testURL(t))
	u.Host = "zoo-gone-" + strings.ToLower(rand.Text()[:8])
	s, err := New(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ok, _ := s.client.BucketExists(context.Background(), s.bucket); ok {
			removeAll(t, s)
			s.client.RemoveBucket(context.Background(), s.bucket)
		}
	})
	sha, _, err := s.Put(t.Context(), bytes.NewReader([]byte("in a bucket that will go")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	removeAll(t, s)
	if err := s.client.RemoveBucket(t.Context(), s.bucket); err != nil {
		t.Fatal(err)
	}
	_, err = b.Read(make([]byte, 10))
	if err == nil || zoo.KindOf(err) == zoo.NotFound || !strings.Contains(err.Error(), "bucket") {
		t.Errorf("Read after the bucket was deleted = %v (kind %v), want an error about the bucket, not NotFound", err, zoo.KindOf(err))
	}
}

// TestNotFoundClassifies: S3's answers for a missing key are not found; a
// missing bucket (also a 404) and other errors are not.
func TestNotFoundClassifies(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{minio.ErrorResponse{StatusCode: 404, Code: "NoSuchKey"}, true},
		{minio.ErrorResponse{StatusCode: 404}, true}, // a HEAD's answer has no code
		{minio.ErrorResponse{StatusCode: 404, Code: "NoSuchBucket"}, false},
		{minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{minio.ErrorResponse{StatusCode: 500, Code: "InternalError"}, false},
		{nil, false},
	} {
		if got := notFound(c.err); got != c.want {
			t.Errorf("notFound(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestPresignExpiryBounds: the documented range of a presigned URL's
// validity, 1 s to 7 days, includes both ends (S3's own limits), and the
// URL carries the expiry asked for; outside it the request is Invalid.
// Signing needs no server when the region is known.
func TestPresignExpiryBounds(t *testing.T) {
	s, err := New("s3://KEY:SECRET@bkt?endpoint=127.0.0.1:1&insecure=1&region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("c", 64)
	presign := map[string]func(time.Duration) (string, error){
		"PresignGet": func(d time.Duration) (string, error) { return s.PresignGet(t.Context(), sha, d, "") },
		"PresignDownload": func(d time.Duration) (string, error) {
			return s.PresignDownload(t.Context(), sha, d, blob.Response{})
		},
	}
	for name, sign := range presign {
		for d, expires := range map[time.Duration]string{time.Second: "1", 7 * 24 * time.Hour: "604800"} {
			u, err := sign(d)
			if err != nil {
				t.Errorf("%s with expiry %v: %v", name, d, err)
				continue
			}
			if p, _ := url.Parse(u); p.Query().Get("X-Amz-Expires") != expires {
				t.Errorf("%s with expiry %v: URL %s, want X-Amz-Expires=%s", name, d, u, expires)
			}
		}
		for _, d := range []time.Duration{time.Second - time.Millisecond, 7*24*time.Hour + time.Second, 0, -time.Minute} {
			if _, err := sign(d); zoo.KindOf(err) != zoo.Invalid {
				t.Errorf("%s with expiry %v = %v, want Invalid", name, d, err)
			}
		}
	}
}

// TestDeleteOlderKeepsBlobWhenUnsure: after deleting a blob, DeleteOlder
// looks at its marker again, for a Put that refreshed it meanwhile. When
// that look fails, such a Put cannot be ruled out: the blob goes back, and
// DeleteOlder reports the failure. When putting it back fails too, its
// content stays under tmp/ and the error says where.
func TestDeleteOlderKeepsBlobWhenUnsure(t *testing.T) {
	direct := newStore(t)
	s, proxy := behindProxy(t, direct)
	data := content(8, 8000)
	sha := hexSHA(data)
	if _, _, err := direct.Put(t.Context(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour) // the blob is old for this cutoff
	var mu sync.Mutex
	var deleted, failRestore bool
	proxy.set(func(method, key string) int {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case method == http.MethodDelete && key == "blobs/"+sha:
			deleted = true
		case method == http.MethodHead && key == "touched/"+sha && deleted:
			return http.StatusInternalServerError // the look after the delete fails
		case method == http.MethodPut && key == "blobs/"+sha && failRestore:
			return http.StatusInternalServerError
		}
		return 0
	})
	if del, err := s.DeleteOlder(t.Context(), sha, future); err == nil || del {
		t.Errorf("DeleteOlder with the last marker check failing = %v, %v; want an error", del, err)
	}
	if !bytes.Equal(blobtest.ReadAll(t, direct, sha), data) {
		t.Fatal("DeleteOlder lost a blob it could not tell was re-stored")
	}

	mu.Lock()
	deleted, failRestore = false, true
	mu.Unlock()
	_, err := s.DeleteOlder(t.Context(), sha, future)
	proxy.set(nil)
	left := leftovers(t, direct)
	if err == nil || len(left) != 1 || !strings.Contains(err.Error(), strings.TrimPrefix(left[0], direct.prefix)) {
		t.Fatalf("DeleteOlder unable to put the blob back = %v, with %v under tmp/; want an error naming the key that keeps it", err, left)
	}
	if got, _ := direct.client.GetObject(t.Context(), direct.bucket, left[0], minio.GetObjectOptions{}); got != nil {
		kept, _ := io.ReadAll(got)
		if !bytes.Equal(kept, data) {
			t.Errorf("%s holds %d bytes, not the blob", left[0], len(kept))
		}
	}
}
