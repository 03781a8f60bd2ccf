package s3

// The tests that need a server read its URL from ZOO_TEST_S3; start one with
//
//	eval "$(scripts/s3-server.sh start)"
//
// Without ZOO_TEST_S3 they skip, except under CI and make test
// (internal/testenv): then they fail, so that CI cannot pass without
// running them.

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/blob/blobtest"
	"github.com/zoo-bioimage/zoo/internal/testenv"
)

// testURL returns ZOO_TEST_S3, or skips (fails under CI) without it.
func testURL(tb testing.TB) string {
	tb.Helper()
	return testenv.Env(tb, testenv.S3, "ZOO_TEST_S3")
}

// newStore returns a store on a fresh prefix of the test bucket, emptied
// when the test ends.
func newStore(tb testing.TB) *Store {
	u, err := url.Parse(testURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/test-" + strings.ToLower(rand.Text()[:10])
	s, err := New(u.String())
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.EnsureBucket(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { removeAll(tb, s) })
	return s
}

// removeAll deletes everything under the store's prefix.
func removeAll(tb testing.TB, s *Store) {
	ctx := context.Background()
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.Err == nil {
			s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID)
		}
	}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			tb.Errorf("cleaning up: %v", obj.Err)
			return
		}
		s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{})
	}
}

// leftovers lists the temporary keys and unfinished uploads under tmp/.
func leftovers(tb testing.TB, s *Store) []string {
	var keys []string
	for obj := range s.client.ListObjects(context.Background(), s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "tmp/", Recursive: true}) {
		if obj.Err != nil {
			tb.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	for up := range s.client.ListIncompleteUploads(context.Background(), s.bucket, s.prefix+"tmp/", true) {
		if up.Err != nil {
			tb.Fatal(up.Err)
		}
		keys = append(keys, "upload:"+up.Key)
	}
	return keys
}

func TestConformance(t *testing.T) {
	testURL(t) // skip (or fail) once, not in every subtest
	blobtest.Run(t, func(t *testing.T) zoo.BlobStore {
		s := newStore(t)
		t.Cleanup(func() {
			// No Put may leave a temporary key or upload behind (this runs
			// before removeAll: cleanups run last-in first-out).
			if left := leftovers(t, s); len(left) > 0 {
				t.Errorf("temporary keys left: %v", left)
			}
		})
		return s
	})
}

func TestNew(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "envkey")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	for _, c := range []struct {
		url, bucket, prefix, endpoint, key string
		secure                             bool
	}{
		{"s3://zoo", "zoo", "", "s3.amazonaws.com", "envkey", true},
		{"s3://zoo-test?endpoint=127.0.0.1:7070&insecure=1", "zoo-test", "", "127.0.0.1:7070", "envkey", false},
		{"s3://zoo/a/b/?endpoint=s3.example.org&region=eu-west-1&insecure=0", "zoo", "a/b/", "s3.example.org", "envkey", true},
		{"s3://K%2F1:S%40cret@zoo?endpoint=h:1", "zoo", "", "h:1", "K/1", true},
	} {
		s, err := New(c.url)
		if err != nil {
			t.Errorf("New(%q): %v", c.url, err)
			continue
		}
		v, _ := s.client.GetCreds()
		if s.bucket != c.bucket || s.prefix != c.prefix || s.endpoint != c.endpoint || v.AccessKeyID != c.key || (s.client.EndpointURL().Scheme == "https") != c.secure {
			t.Errorf("New(%q) = bucket %q prefix %q endpoint %q key %q url %s", c.url, s.bucket, s.prefix, s.endpoint, v.AccessKeyID, s.client.EndpointURL())
		}
	}
	// The timeout's documented range includes both ends.
	for _, d := range []time.Duration{100 * time.Millisecond, 10 * time.Minute} {
		s, err := New("s3://zoo?endpoint=h:1&timeout=" + d.String())
		if err != nil || s.timeout != d {
			t.Errorf("timeout=%s: %v (timeout %v)", d, err, s)
		}
	}
	if s, err := New("s3://K:S%40cret@zoo"); err == nil {
		if v, _ := s.client.GetCreds(); v.SecretAccessKey != "S@cret" {
			t.Errorf("secret from the URL = %q", v.SecretAccessKey)
		}
	}

	for _, bad := range []string{
		"",
		"zoo",
		"http://zoo",
		"s3:///prefix",
		"s3://Zoo_Bucket",
		"s3://zoo?endpoint=http://127.0.0.1:7070",
		"s3://zoo?endpoint=",
		"s3://zoo?insecure=yes",
		"s3://zoo?enpoint=127.0.0.1",
		"s3://key:hunter2@zoo?bogus=1",
		"s3://key:hunter2@zoo:badport",
		"s3://key:hunter2@zoo?endpoint=h&x=%zz",
		"s3://zoo?endpoint=h:1&timeout=99ms",
		"s3://zoo?endpoint=h:1&timeout=10m1s",
	} {
		_, err := New(bad)
		if zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("New(%q) = %v, want Invalid", bad, err)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q): the error shows the secret: %v", bad, err)
		}
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if _, err := New("s3://zoo"); zoo.KindOf(err) != zoo.Invalid || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("New without credentials = %v, want Invalid naming AWS_ACCESS_KEY_ID", err)
	}
}

// TestSmallPutIsDirect checks that a blob smaller than a part is stored by
// one PUT to its key (no temporary key), and that a second Put of it sends
// no content: a HEAD, the empty touch marker that refreshes the blob's age
// for garbage collection, and a HEAD checking the blob is still there.
func TestSmallPutIsDirect(t *testing.T) {
	s := newStore(t)
	for _, size := range []int64{5, smallSize + 1, PartSize - 1} {
		var trace bytes.Buffer
		s.client.TraceOn(&trace)
		_, _, err := s.Put(t.Context(), blobtest.Content(uint64(size), size))
		s.client.TraceOff()
		if err != nil {
			t.Fatal(err)
		}
		if got := requests(trace.String()); got != "HEAD PUT" {
			t.Errorf("first Put of %d bytes sent %s, want HEAD PUT", size, got)
		}
		trace.Reset()
		s.client.TraceOn(&trace)
		_, _, err = s.Put(t.Context(), blobtest.Content(uint64(size), size))
		s.client.TraceOff()
		if err != nil {
			t.Fatal(err)
		}
		if got := requests(trace.String()); got != "HEAD PUT HEAD" {
			t.Errorf("second Put of %d bytes sent %s, want HEAD PUT HEAD", size, got)
		}
	}
	if left := leftovers(t, s); len(left) > 0 {
		t.Fatalf("temporary keys: %v", left)
	}
}

// TestBufferBoundaries round-trips blobs around the sizes where Put
// changes buffers or paths.
func TestBufferBoundaries(t *testing.T) {
	s := newStore(t)
	for _, size := range []int64{smallSize - 1, smallSize, smallSize + 1, PartSize - 1, PartSize, PartSize + 1, 2 * PartSize} {
		want, _ := io.ReadAll(blobtest.Content(uint64(size), size))
		sha, n, err := s.Put(t.Context(), bytes.NewReader(want))
		if err != nil || n != size {
			t.Fatalf("Put of %d bytes = %d, %v", size, n, err)
		}
		b, err := s.Open(t.Context(), sha)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(b)
		b.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes read back as %d bytes (%v)", size, len(got), err)
		}
	}
}

// requests lists the methods of the requests in a minio-go trace.
func requests(trace string) string {
	var methods []string
	for line := range strings.Lines(trace) {
		if m, _, ok := strings.Cut(line, " /"); ok && (m == "GET" || m == "HEAD" || m == "PUT" || m == "POST" || m == "DELETE") {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, " ")
}

// TestFailedMultipartLeavesNothing checks that a reader failing after
// several parts aborts the multipart upload.
func TestFailedMultipartLeavesNothing(t *testing.T) {
	s := newStore(t)
	r := io.MultiReader(blobtest.Content(1, 2*PartSize+3), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, _, err := s.Put(t.Context(), r); err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	if left := leftovers(t, s); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestCleanTemp(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	// What a crash leaves: a temporary key and an unfinished upload.
	if _, err := s.client.PutObject(ctx, s.bucket, s.prefix+"tmp/crashed", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.core.NewMultipartUpload(ctx, s.bucket, s.prefix+"tmp/unfinished", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CleanTemp(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("CleanTemp(1h) = %d, %v; want nothing removed (all is new)", n, err)
	}
	time.Sleep(1100 * time.Millisecond) // S3 times have 1 s resolution
	if n, err := s.CleanTemp(ctx, time.Second); err != nil || n != 2 {
		t.Fatalf("CleanTemp(1s) = %d, %v; want 2 removed", n, err)
	}
	if left := leftovers(t, s); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestPresignGet(t *testing.T) {
	s := newStore(t)
	data := blobtest.Content(9, 100000)
	sha, size, err := s.Put(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(blobtest.Content(9, 100000))

	const name = "weights ü (1).onnx"
	u, err := s.PresignGet(t.Context(), sha, time.Minute, name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "X-Amz-Signature=") || !strings.Contains(u, "X-Amz-Algorithm=AWS4-HMAC-SHA256") {
		t.Fatalf("not a SigV4 presigned URL: %s", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET presigned URL: %s, %d of %d bytes", resp.Status, len(got), size)
	}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err != nil || params["filename"] != name {
		t.Errorf("Content-Disposition %q, want attachment with filename %q", resp.Header.Get("Content-Disposition"), name)
	}

	// Range requests work on the presigned URL (downloads resume).
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Range", "bytes=1000-1999")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, want[1000:2000]) {
		t.Errorf("ranged GET: %s, %d bytes", resp.Status, len(got))
	}

	// Without a file name; a tampered URL is refused.
	u, err = s.PresignGet(t.Context(), sha, time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(strings.Replace(u, sha, strings.Repeat("0", 64), 1)); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("tampered URL: %s, want 403", resp.Status)
		}
	}

	for _, d := range []time.Duration{0, -time.Second, 8 * 24 * time.Hour} {
		if _, err := s.PresignGet(t.Context(), sha, d, ""); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("PresignGet with expiry %v = %v, want Invalid", d, err)
		}
	}
	if _, err := s.PresignGet(t.Context(), "../x", time.Minute, ""); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("PresignGet of an invalid key = %v, want Invalid", err)
	}
}

// TestUnreachable checks the kind of errors when the server is down.
func TestUnreachable(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	s, err := New("s3://zoo?endpoint=127.0.0.1:1&insecure=1&region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err = s.Stat(ctx, strings.Repeat("0", 64))
	if zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("Stat with the server down = %v, want Unavailable", err)
	}
}

// TestMissingBucket checks that a missing bucket is not reported as a
// missing blob.
func TestMissingBucket(t *testing.T) {
	u, _ := url.Parse(testURL(t))
	u.Host = "zoo-missing-" + strings.ToLower(rand.Text()[:8])
	s, err := New(u.String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(t.Context(), strings.Repeat("0", 64))
	if zoo.KindOf(err) == zoo.NotFound || !strings.Contains(err.Error(), "bucket") {
		t.Fatalf("Stat in a missing bucket = %v, want an error about the bucket", err)
	}
}

// TestEnsureBucketAndPing: readiness names a missing bucket; EnsureBucket
// creates it (and accepts one that exists), after which Ping succeeds.
func TestEnsureBucketAndPing(t *testing.T) {
	u, _ := url.Parse(testURL(t))
	u.Host = "zoo-new-" + strings.ToLower(rand.Text()[:8])
	s, err := New(u.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); zoo.KindOf(err) != zoo.Unavailable || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Ping of a missing bucket = %v, want Unavailable saying it does not exist", err)
	}
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Fatalf("EnsureBucket of a new bucket: %v", err)
	}
	t.Cleanup(func() { s.client.RemoveBucket(context.Background(), s.bucket) })
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Errorf("EnsureBucket of an existing bucket: %v", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after EnsureBucket: %v", err)
	}
}

func BenchmarkPut256MiB(b *testing.B) { blobtest.BenchPut(b, newStore(b), 256<<20) }
func BenchmarkGet256MiB(b *testing.B) { blobtest.BenchGet(b, newStore(b), 256<<20) }

// TestRePutEmpty: re-storing existing content writes the empty touch
// marker; the connection must stay usable for the requests after it (a
// chunked signature of the empty marker broke the next request on
// VersityGW: "cannot check blob e3b0…").
func TestRePutEmpty(t *testing.T) {
	s := newStore(t)
	for i := range 4 {
		if _, _, err := s.Put(t.Context(), bytes.NewReader(nil)); err != nil {
			t.Fatalf("Put %d of the empty blob: %v", i+1, err)
		}
		if _, err := s.Stat(t.Context(), emptySHA256); err != nil {
			t.Fatalf("Stat after Put %d: %v", i+1, err)
		}
	}
}

// public= signs presigned URLs for the address clients reach, offline.
func TestPresignPublicEndpoint(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	sha := strings.Repeat("a", 64)
	if _, err := New("s3://bkt?endpoint=10.0.0.5:7070&insecure=1&public=https://s3.example.org"); zoo.KindOf(err) != zoo.Invalid || !strings.Contains(zoo.MessageOf(err), "region") {
		t.Errorf("public without region: %v", err)
	}
	for _, bad := range []string{"s3.example.org", "ftp://x", "https://u:p@x", "https://x/path"} {
		if _, err := New("s3://bkt?region=us-east-1&public=" + url.QueryEscape(bad)); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("public=%s: %v, want Invalid", bad, err)
		}
	}
	s, err := New("s3://bkt/pre?endpoint=10.0.0.5:7070&insecure=1&region=us-east-1&public=https://s3.example.org")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignDownload(t.Context(), sha, time.Minute, blob.Response{ContentType: "application/zip", ContentDisposition: `attachment; filename="a b.zip"`})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	if p.Scheme != "https" || p.Host != "s3.example.org" || !strings.HasSuffix(p.Path, "/bkt/pre/blobs/"+sha) ||
		p.Query().Get("response-content-type") != "application/zip" || p.Query().Get("response-content-disposition") != `attachment; filename="a b.zip"` {
		t.Errorf("presigned URL %s", u)
	}
	if _, err := s.PresignDownload(t.Context(), "../x", time.Minute, blob.Response{}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("bad key: %v", err)
	}
}

// An endpoint that refuses connections, or accepts them and never
// answers, fails every request fast and as Unavailable (issue #22:
// downloads took 3–5 s to fail, /collection.json 15 s, while minio-go
// retried ten times).
func TestUnreachableFailsFast(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	// Nothing listens: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	// Accepts and never answers (a hung server).
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	for _, c := range []struct {
		name, endpoint string
		bound          time.Duration
	}{{"refused", refused, time.Second}, {"hung", hung.Addr().String(), 3 * time.Second}} {
		s, err := New("s3://KEY:SECRET@zoo-down?insecure=1&region=us-east-1&timeout=500ms&endpoint=" + c.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range []struct {
			name string
			run  func(ctx context.Context) error
		}{
			{"Ping", s.Ping},
			{"Open", func(ctx context.Context) error { _, err := s.Open(ctx, sha); return err }},
			{"Stat", func(ctx context.Context) error { _, err := s.Stat(ctx, sha); return err }},
		} {
			start := time.Now()
			err := op.run(context.Background())
			took := time.Since(start)
			if zoo.KindOf(err) != zoo.Unavailable {
				t.Errorf("%s %s: %v (kind %v), want Unavailable", c.name, op.name, err, zoo.KindOf(err))
			}
			if took > c.bound {
				t.Errorf("%s %s took %v to fail, want under %v", c.name, op.name, took, c.bound)
			}
		}
		// A hung endpoint costs one timeout, not one per blob: right
		// after a failure, reads fail at once.
		start := time.Now()
		for range 5 {
			if _, err := s.Open(context.Background(), sha); zoo.KindOf(err) != zoo.Unavailable {
				t.Errorf("%s: Open after a failure: %v", c.name, err)
			}
		}
		if took := time.Since(start); took > 200*time.Millisecond {
			t.Errorf("%s: five Opens right after a failure took %v, want at once", c.name, took)
		}
	}
	if _, err := New("s3://b?endpoint=x:1&timeout=forever"); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("timeout=forever: %v", err)
	}
}
