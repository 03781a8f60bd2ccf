// Package s3 is the scaled-out zoo.BlobStore: blobs in a bucket of any
// S3-compatible object store (AWS S3, VersityGW, MinIO, Ceph RGW, …),
// shared by stateless replicas. It speaks plain S3 through minio-go and uses
// no vendor extensions.
//
// # Location
//
// New takes a URL:
//
//	s3://[ACCESS_KEY:SECRET_KEY@]BUCKET[/PREFIX]?endpoint=HOST:PORT&region=REGION&insecure=1
//
// where
//   - BUCKET is the bucket; PREFIX (optional) is a folder inside it, so that
//     several stores can share a bucket;
//   - endpoint is the server as host[:port], without a scheme (default
//     s3.amazonaws.com);
//   - region is the bucket's region. Optional: when it is missing, the
//     client asks the server (one request, cached). VersityGW and MinIO use
//     us-east-1;
//   - insecure=1 (or true) talks plain HTTP instead of HTTPS;
//   - timeout is how long one request may wait for the server's answer
//     (its headers; default 10s, as a Go duration such as 5s). A request
//     the network refuses fails at once;
//   - public=URL (optional) is the store's address as clients reach it,
//     e.g. https://s3.example.org, when it differs from endpoint (which
//     the servers use): presigned download URLs (PresignDownload) are
//     signed for it. It needs region (signing then needs no request).
//
// # Failing fast
//
// An unreachable endpoint must not hold requests for long: connections
// are dialled within 5 s, a request is retried at most once (minio-go's
// default is ten times with backoff, seconds per failure), and requests
// that read metadata (HEAD, DELETE, bucket checks) and the start of every
// download are bounded by the timeout. Errors of the network are
// zoo.Unavailable. After the endpoint failed to answer, reads fail at
// once for 3 s (a hung endpoint costs one timeout per request, not one
// per blob it reads). Ping, the readiness check, always asks.
//
// For example s3://zoo-test?endpoint=127.0.0.1:7070&insecure=1.
//
// Credentials come from the URL's user info (percent-encode special
// characters) or, when it has none, from the standard environment variables
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN when
// set). A URL without either is refused.
//
// # Keys
//
// Under PREFIX the bucket holds:
//
//	blobs/<sha256>     complete blobs (64 lower-case hex)
//	tmp/<random>       uploads whose hash was unknown when they started
//	touched/<sha256>   empty: when a Put last found the blob already stored
//	                   (its time counts as the blob's, blob.Aged)
//
// A Put reads up to PartSize bytes first (into a 256 KiB buffer, then a
// PartSize one). If the blob ends there, its hash
// is known before anything is sent: existing content costs one HEAD, new
// content one PUT straight to blobs/<sha256> (a single PUT is atomic in S3).
// A larger blob streams as a multipart upload to tmp/<random> while being
// hashed, is copied on the server to blobs/<sha256> unless that exists, and
// the temporary key is deleted. Either way a blob is visible only when
// complete. A crash can leave temporary keys or unfinished multipart
// uploads under tmp/; CleanTemp removes them.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"mime"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
)

// PartSize is the size of the parts of a multipart upload, and the memory a
// running Put holds (buffers are pooled). With S3's limit of 10,000 parts
// it caps a blob at about 156 GiB.
const PartSize = 16 << 20

// S3's limits: parts of a multipart upload, size of a single copy.
const (
	maxParts    = 10000
	maxCopySize = 5 << 30
)

// Store is a zoo.BlobStore on an S3 bucket. It is safe for concurrent use,
// also by several processes sharing the bucket.
type Store struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string // "" or ends in "/"
	region   string
	endpoint string
	timeout  time.Duration // bound of one request's wait for an answer
	bucketOK atomic.Bool   // the bucket was seen to exist
	// down is when the endpoint last failed to answer (UnixNano; 0: it
	// answered since): reads fail at once for coolDown after that.
	down   atomic.Int64
	signer *minio.Client // signs presigned URLs: client, or one for public
}

// coolDown is how long after the endpoint failed to answer reads fail at
// once instead of waiting for it again: a hung endpoint costs one
// timeout, not one per blob of a collection or page.
const coolDown = 3 * time.Second

// unreachable fails a read at once while the endpoint is cooling down.
func (s *Store) unreachable(op string) error {
	t := s.down.Load()
	if t == 0 {
		return nil
	}
	since := time.Since(time.Unix(0, t))
	if since >= coolDown {
		return nil
	}
	return zoo.E(op, zoo.Unavailable, nil, "the S3 endpoint %s did not answer %v ago; try again later", s.endpoint, since.Round(time.Millisecond))
}

// answered records whether the endpoint answered (any answer, even an
// error response) or failed to (a network error or a timeout).
func (s *Store) answered(err error) {
	if err == nil {
		s.down.Store(0)
		return
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.StatusCode != 0 && resp.StatusCode != 503 {
		s.down.Store(0)
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the caller went away
	}
	s.down.Store(time.Now().UnixNano())
}

// DefaultTimeout bounds a request's wait for the server's answer (the
// URL's timeout parameter overrides it).
const DefaultTimeout = 10 * time.Second

// maxRetries is how many times minio-go sends one request: once more
// after a failure.
const maxRetries = 2

var _ zoo.BlobStore = (*Store)(nil)

// New returns the store the URL names (see the package documentation). It
// does not contact the server; EnsureBucket does.
func New(rawURL string) (*Store, error) {
	const op = "s3.New"
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a secret
		}
		return nil, zoo.E(op, zoo.Invalid, nil, "invalid S3 URL: %v", err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return nil, zoo.E(op, zoo.Invalid, nil, "invalid S3 URL %q: want s3://bucket[/prefix]?endpoint=host:port", u.Redacted())
	}
	s := &Store{bucket: u.Host, endpoint: "s3.amazonaws.com", timeout: DefaultTimeout}
	if err := s3utils.CheckValidBucketNameStrict(s.bucket); err != nil {
		return nil, zoo.E(op, zoo.Invalid, nil, "invalid bucket name %q in the S3 URL", s.bucket)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		s.prefix = p + "/"
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, nil, "invalid S3 URL parameters: %v", err)
	}
	secure := true
	var public *url.URL
	for k, vs := range query {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			if strings.Contains(v, "://") || strings.Contains(v, "/") || v == "" {
				return nil, zoo.E(op, zoo.Invalid, nil, "invalid S3 endpoint %q: want host[:port] without a scheme (add insecure=1 for plain HTTP)", v)
			}
			s.endpoint = v
		case "region":
			s.region = v
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
				return nil, zoo.E(op, zoo.Invalid, nil, "invalid S3 URL parameter timeout=%q: want a duration from 100ms to 10m, such as 5s", v)
			}
			s.timeout = d
		case "insecure":
			switch v {
			case "1", "true":
				secure = false
			case "0", "false":
			default:
				return nil, zoo.E(op, zoo.Invalid, nil, "invalid S3 URL parameter insecure=%q: want 1 or 0", v)
			}
		case "public":
			p, err := url.Parse(v)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.Trim(p.Path, "/") != "" || p.User != nil {
				return nil, zoo.E(op, zoo.Invalid, nil, "invalid S3 URL parameter public=%q: want the store's address as clients reach it, like https://s3.example.org", v)
			}
			public = p
		default:
			return nil, zoo.E(op, zoo.Invalid, nil, "unknown S3 URL parameter %q: known are endpoint, region, insecure, timeout, public", k)
		}
	}

	var creds *credentials.Credentials
	if u.User != nil {
		secret, _ := u.User.Password()
		creds = credentials.NewStaticV4(u.User.Username(), secret, "")
	} else if ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); ak != "" && sk != "" {
		creds = credentials.NewStaticV4(ak, sk, os.Getenv("AWS_SESSION_TOKEN"))
	} else {
		return nil, zoo.E(op, zoo.Invalid, nil, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put them in the URL (s3://KEY:SECRET@bucket…)")
	}

	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot set up the S3 client")
	}
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 5 * time.Second
	s.client, err = minio.New(s.endpoint, &minio.Options{Creds: creds, Secure: secure, Region: s.region, Transport: tr, MaxRetries: maxRetries})
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "invalid S3 location %q", u.Redacted())
	}
	s.core = minio.Core{Client: s.client}
	s.signer = s.client
	if public != nil {
		if s.region == "" {
			return nil, zoo.E(op, zoo.Invalid, nil, "the S3 URL parameter public needs region too (e.g. region=us-east-1): presigned URLs are signed for a region")
		}
		s.signer, err = minio.New(public.Host, &minio.Options{Creds: creds, Secure: public.Scheme == "https", Region: s.region})
		if err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "invalid S3 URL parameter public=%q", public)
		}
	}
	return s, nil
}

// bounded returns ctx limited to the store's timeout, for a request whose
// whole answer is small (HEAD, DELETE, a bucket check).
func (s *Store) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Ping checks that the bucket can be reached and exists, within the
// store's timeout: the readiness check of a process that needs the store.
func (s *Store) Ping(ctx context.Context) error {
	const op = "s3.Ping"
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.bucket)
	s.answered(err)
	if err != nil {
		return s.fail(op, err, "cannot reach bucket %s", s.bucket)
	}
	if !ok {
		return zoo.E(op, zoo.Unavailable, nil, "bucket %s does not exist at the S3 endpoint %s", s.bucket, s.endpoint)
	}
	return nil
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the folder inside the bucket that holds the store ("" or
// ending in "/").
func (s *Store) Prefix() string { return s.prefix }

// EnsureBucket creates the bucket unless it exists.
func (s *Store) EnsureBucket(ctx context.Context) error {
	const op = "s3.EnsureBucket"
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.fail(op, err, "cannot check bucket %s", s.bucket)
	}
	if ok {
		s.bucketOK.Store(true)
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	switch minio.ToErrorResponse(err).Code {
	case "":
		if err != nil {
			return s.fail(op, err, "cannot create bucket %s", s.bucket)
		}
		s.bucketOK.Store(true)
		return nil
	case "BucketAlreadyOwnedByYou": // created concurrently
		s.bucketOK.Store(true)
		return nil
	case "BucketAlreadyExists":
		return zoo.E(op, zoo.Conflict, err, "bucket %s belongs to another account; choose another name", s.bucket)
	}
	return s.fail(op, err, "cannot create bucket %s", s.bucket)
}

func (s *Store) blobKey(sha string) string { return s.prefix + "blobs/" + sha }

// Buffers for Put: most files of a model package (descriptions, docs,
// small tensors) fit a small one; larger blobs take a part buffer.
const smallSize = 256 << 10

var smallBuffers = sync.Pool{New: func() any { b := make([]byte, smallSize); return &b }}

// partBuffers is a free list of part buffers. Unlike a sync.Pool it keeps
// its buffers across garbage collections and hands the same ones out again,
// so back-to-back large Puts (a weights file, then the package zip) reuse a
// buffer instead of growing the heap by another PartSize each (measured:
// server RSS growth during a 1 GiB upload 65 MiB with a pool, 35 MiB with
// the free list).
var partBuffers = freeList{ch: make(chan *[]byte, 4)}

type freeList struct{ ch chan *[]byte }

func (f freeList) Get() any {
	select {
	case b := <-f.ch:
		return b
	default:
		b := make([]byte, PartSize)
		return &b
	}
}

func (f freeList) Put(b *[]byte) {
	select {
	case f.ch <- b:
	default: // full: let the garbage collector have it
	}
}

// Put stores the bytes of r under their sha256, holding at most PartSize
// bytes in memory (256 KiB for blobs up to that size). If r fails, or ctx
// is cancelled, nothing becomes visible under blobs/ and the error is
// returned (wrapping r's error).
func (s *Store) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	const op = "s3.Put"
	h := sha256.New()
	src := &blob.Source{Ctx: ctx, R: io.TeeReader(r, h)}

	// Read up to a part; when the blob ends before, its key is known
	// before uploading.
	smallp := smallBuffers.Get().(*[]byte)
	n, err := io.ReadFull(src, *smallp)
	if src.Err != nil {
		smallBuffers.Put(smallp)
		return "", 0, blob.ReadError(op, src.Err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		defer smallBuffers.Put(smallp)
		return s.putSmall(ctx, h, (*smallp)[:n])
	}
	bufp := partBuffers.Get().(*[]byte)
	defer partBuffers.Put(bufp)
	buf := *bufp
	copy(buf, (*smallp)[:n])
	smallBuffers.Put(smallp)
	m, err := io.ReadFull(src, buf[n:])
	n += m
	if src.Err != nil {
		return "", 0, blob.ReadError(op, src.Err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return s.putSmall(ctx, h, buf[:n])
	}

	// A large blob: stream to a temporary key, then copy to its key.
	tmp := s.prefix + "tmp/" + rand.Text()
	size, err := s.putMultipart(ctx, tmp, buf, src)
	if err != nil {
		return "", 0, err
	}
	defer s.removeQuietly(ctx, tmp)
	sha := hex.EncodeToString(h.Sum(nil))
	key := s.blobKey(sha)
	if info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err == nil && info.Size == size {
		if ok, err := s.touch(ctx, sha); err != nil || ok {
			return sha, size, err // existing content
		}
	} else if err != nil && !notFound(err) {
		return "", 0, s.fail(op, err, "cannot check blob %s", sha)
	}
	dst := minio.CopyDestOptions{Bucket: s.bucket, Object: key}
	from := minio.CopySrcOptions{Bucket: s.bucket, Object: tmp}
	if size <= maxCopySize {
		_, err = s.client.CopyObject(ctx, dst, from)
	} else {
		_, err = s.client.ComposeObject(ctx, dst, from) // a multipart copy
	}
	if err != nil {
		return "", 0, s.fail(op, err, "cannot store blob %s", sha)
	}
	return sha, size, nil
}

// putSmall stores a blob held in memory (whose hash is h) under its key,
// unless it exists.
func (s *Store) putSmall(ctx context.Context, h hash.Hash, data []byte) (string, int64, error) {
	const op = "s3.Put"
	sha, size := hex.EncodeToString(h.Sum(nil)), int64(len(data))
	key := s.blobKey(sha)
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil && info.Size == size {
		if ok, err := s.touch(ctx, sha); err != nil || ok {
			return sha, size, err // existing content
		}
	} else if err != nil && !notFound(err) {
		return "", 0, s.fail(op, err, "cannot check blob %s", sha)
	}
	// The request is signed with the sha256 of its body, which is the key:
	// the server checks the bytes against it. (This also avoids a chunked
	// streaming signature, whose empty body some servers fail to consume.)
	_, err = s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(data), size, "", sha,
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
	if err != nil {
		return "", 0, s.fail(op, err, "cannot store blob %s", sha)
	}
	return sha, size, nil
}

// putMultipart uploads buf (full) and the rest of src to key as a multipart
// upload and returns the size. On failure the upload is aborted.
func (s *Store) putMultipart(ctx context.Context, key string, buf []byte, src *blob.Source) (size int64, err error) {
	const op = "s3.Put"
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return 0, s.fail(op, err, "cannot start an upload")
	}
	defer func() {
		if err != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			s.core.AbortMultipartUpload(cctx, s.bucket, key, id)
		}
	}()

	var parts []minio.CompletePart
	n := len(buf)
	for {
		if len(parts) == maxParts {
			return 0, zoo.E(op, zoo.TooLarge, nil, "blob larger than %d parts of %d MiB", maxParts, PartSize>>20)
		}
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, id, len(parts)+1, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			return 0, s.fail(op, err, "cannot upload part %d", len(parts)+1)
		}
		parts = append(parts, minio.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
		size += int64(n)

		n, err = io.ReadFull(src, buf)
		if src.Err != nil {
			return 0, blob.ReadError(op, src.Err)
		}
		if n == 0 { // io.EOF: the previous part was the last
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return 0, blob.ReadError(op, err)
		}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, minio.PutObjectOptions{}); err != nil {
		return 0, s.fail(op, err, "cannot complete an upload")
	}
	return size, nil
}

// removeQuietly deletes a temporary key, also when ctx has ended. A failure
// leaves it to CleanTemp.
func (s *Store) removeQuietly(ctx context.Context, key string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	s.client.RemoveObject(cctx, s.bucket, key, minio.RemoveObjectOptions{})
}

// cleanupContext returns a context for cleaning up after ctx, which may have
// ended.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// Stat returns the size of a blob.
func (s *Store) Stat(ctx context.Context, sha string) (int64, error) {
	const op = "s3.Stat"
	if err := blob.CheckKey(op, sha); err != nil {
		return 0, err
	}
	if err := s.unreachable(op); err != nil {
		return 0, err
	}
	sctx, cancel := s.bounded(ctx)
	defer cancel()
	info, err := s.client.StatObject(sctx, s.bucket, s.blobKey(sha), minio.StatObjectOptions{})
	s.answered(err)
	if err != nil {
		return 0, s.blobError(ctx, op, err, sha, "stat")
	}
	return info.Size, nil
}

// Delete removes a blob.
func (s *Store) Delete(ctx context.Context, sha string) error {
	const op = "s3.Delete"
	if err := blob.CheckKey(op, sha); err != nil {
		return err
	}
	// S3 deletes succeed for missing keys; the contract wants NotFound.
	sctx, cancel := s.bounded(ctx)
	defer cancel()
	if _, err := s.client.StatObject(sctx, s.bucket, s.blobKey(sha), minio.StatObjectOptions{}); err != nil {
		return s.blobError(ctx, op, err, sha, "delete")
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.blobKey(sha), minio.RemoveObjectOptions{}); err != nil {
		return s.blobError(ctx, op, err, sha, "delete")
	}
	s.removeQuietly(ctx, s.touchKey(sha))
	return nil
}

// emptySHA256 is the sha256 of no bytes.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// touchKey is the marker whose time says when a Put last found the
// blob's content already stored (S3 cannot refresh an object's time in
// place).
func (s *Store) touchKey(sha string) string { return s.prefix + "touched/" + sha }

// touch records that a Put found sha stored: it writes the blob's touch
// marker, then checks that the blob is still there (a garbage collection
// may have deleted it meanwhile; DeleteOlder restores a blob whose marker
// it finds fresh). false means the blob is gone and the Put must store it.
func (s *Store) touch(ctx context.Context, sha string) (bool, error) {
	const op = "s3.Put"
	// Signed with the empty body's sha256, as putSmall signs: a chunked
	// streaming signature of an empty body leaves some servers' connection
	// unusable for the next request.
	if _, err := s.core.PutObject(ctx, s.bucket, s.touchKey(sha), bytes.NewReader(nil), 0, "", emptySHA256,
		minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
		return false, s.fail(op, err, "cannot store blob %s", sha)
	}
	if _, err := s.client.StatObject(ctx, s.bucket, s.blobKey(sha), minio.StatObjectOptions{}); err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, s.fail(op, err, "cannot check blob %s", sha)
	}
	return true, nil
}

var _ blob.Aged = (*Store)(nil)

// WalkAged is Walk with each blob's time (blob.Aged): the later of its
// object's time and its touch marker's.
func (s *Store) WalkAged(ctx context.Context, fn func(sha string, size int64, modified time.Time) error) error {
	const op = "s3.Walk"
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	touched := map[string]time.Time{}
	tp := s.prefix + "touched/"
	for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: tp, Recursive: true}) {
		if obj.Err != nil {
			return s.fail(op, obj.Err, "cannot list the blobs")
		}
		touched[strings.TrimPrefix(obj.Key, tp)] = obj.LastModified
	}
	bp := s.prefix + "blobs/"
	for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: bp, Recursive: true}) {
		if obj.Err != nil {
			return s.fail(op, obj.Err, "cannot list the blobs")
		}
		if sha := strings.TrimPrefix(obj.Key, bp); blob.ValidKey(sha) {
			t := obj.LastModified
			if m, ok := touched[sha]; ok && m.After(t) {
				t = m
			}
			if err := fn(sha, obj.Size, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// age is the later of the blob's and its marker's time (zero if the blob
// is missing).
func (s *Store) age(ctx context.Context, sha string) (time.Time, int64, error) {
	info, err := s.client.StatObject(ctx, s.bucket, s.blobKey(sha), minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return time.Time{}, 0, nil
		}
		return time.Time{}, 0, err
	}
	t := info.LastModified
	if m, err := s.client.StatObject(ctx, s.bucket, s.touchKey(sha), minio.StatObjectOptions{}); err == nil && m.LastModified.After(t) {
		t = m.LastModified
	} else if err != nil && !notFound(err) {
		return time.Time{}, 0, err
	}
	return t, info.Size, nil
}

// DeleteOlder deletes the blob unless it was stored or re-stored at or
// after cutoff (blob.Aged). S3 has no rename, so the blob is copied to a
// temporary key first and its marker checked again after the delete: a
// Put that refreshed it meanwhile gets it copied back (and a Put that
// finds it gone stores it anew), so no blob a Put has just returned is
// lost. When that second check fails, such a Put cannot be ruled out: the
// blob is copied back too and the error returned. If copying it back
// fails, its content stays at the temporary key, which the error names.
func (s *Store) DeleteOlder(ctx context.Context, sha string, cutoff time.Time) (bool, error) {
	const op = "s3.Delete"
	if err := blob.CheckKey(op, sha); err != nil {
		return false, err
	}
	t, size, err := s.age(ctx, sha)
	if err != nil {
		return false, s.fail(op, err, "cannot check blob %s", sha)
	}
	if t.IsZero() || !t.Before(cutoff) {
		return false, nil
	}
	key, spare := s.blobKey(sha), s.prefix+"tmp/gc-"+sha+"-"+rand.Text()
	cp := func(ctx context.Context, from, to string) error {
		dst, src := minio.CopyDestOptions{Bucket: s.bucket, Object: to}, minio.CopySrcOptions{Bucket: s.bucket, Object: from}
		if size <= maxCopySize {
			_, err := s.client.CopyObject(ctx, dst, src)
			return err
		}
		_, err := s.client.ComposeObject(ctx, dst, src)
		return err
	}
	if err := cp(ctx, key, spare); err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, s.fail(op, err, "cannot delete blob %s", sha)
	}
	keepSpare := false
	defer func() {
		if !keepSpare {
			s.removeQuietly(ctx, spare)
		}
	}()
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return false, s.fail(op, err, "cannot delete blob %s", sha)
	}
	m, err := s.client.StatObject(ctx, s.bucket, s.touchKey(sha), minio.StatObjectOptions{})
	refreshed := err == nil && !m.LastModified.Before(cutoff)
	if refreshed || err != nil && !notFound(err) {
		// Put it back, also when ctx has ended meanwhile.
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if cerr := cp(cctx, spare, key); cerr != nil {
			keepSpare = true
			ferr := s.fail(op, cerr, "cannot copy %s back", spare)
			return false, zoo.E(op, zoo.KindOf(ferr), ferr, "blob %s was deleted and could not be put back (it may have been re-stored meanwhile); its content is kept at %s in bucket %s", sha, spare, s.bucket)
		}
		if !refreshed {
			return false, s.fail(op, err, "cannot check blob %s (it was kept)", sha)
		}
		return false, nil
	}
	s.removeQuietly(ctx, s.touchKey(sha))
	return true, nil
}

// Walk calls fn for every stored blob, in key order. An error from fn stops
// the walk and is returned as it is.
func (s *Store) Walk(ctx context.Context, fn func(sha string, size int64) error) error {
	const op = "s3.Walk"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when fn fails
	prefix := s.prefix + "blobs/"
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return s.fail(op, obj.Err, "cannot list the blobs")
		}
		if sha := strings.TrimPrefix(obj.Key, prefix); blob.ValidKey(sha) {
			if err := fn(sha, obj.Size); err != nil {
				return err
			}
		}
	}
	return nil
}

// CleanTemp removes temporary keys and unfinished multipart uploads under
// tmp/ that are older than olderThan, left by crashed Puts, and returns how
// many it removed. An upload's age counts from its start, so choose
// olderThan well above the longest upload (a day is safe).
func (s *Store) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	const op = "s3.CleanTemp"
	cutoff := time.Now().Add(-olderThan)
	prefix := s.prefix + "tmp/"
	n := 0
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return n, s.fail(op, obj.Err, "cannot list the temporary keys")
		}
		if obj.LastModified.Before(cutoff) {
			if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
				return n, s.fail(op, err, "cannot remove temporary key %s", obj.Key)
			}
			n++
		}
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, prefix, true) {
		if up.Err != nil {
			return n, s.fail(op, up.Err, "cannot list unfinished uploads")
		}
		if up.Initiated.Before(cutoff) {
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
				return n, s.fail(op, err, "cannot abort the upload of %s", up.Key)
			}
			n++
		}
	}
	return n, nil
}

// PresignGet returns a URL (SigV4, valid for expiry, at most 7 days) that
// downloads the blob without credentials. When filename is not empty the
// download is served as an attachment with that name. It does not check
// that the blob exists. Clients must reach the store's endpoint.
func (s *Store) PresignGet(ctx context.Context, sha string, expiry time.Duration, filename string) (string, error) {
	const op = "s3.PresignGet"
	if err := blob.CheckKey(op, sha); err != nil {
		return "", err
	}
	if expiry < time.Second || expiry > 7*24*time.Hour {
		return "", zoo.E(op, zoo.Invalid, nil, "invalid expiry %v: want 1s to 7 days", expiry)
	}
	params := url.Values{}
	if filename != "" {
		cd := mime.FormatMediaType("attachment", map[string]string{"filename": filename})
		if cd == "" {
			return "", zoo.E(op, zoo.Invalid, nil, "invalid file name %q", filename)
		}
		params.Set("response-content-disposition", cd)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.blobKey(sha), expiry, params)
	if err != nil {
		return "", s.fail(op, err, "cannot sign a download of blob %s", sha)
	}
	return u.String(), nil
}

// PresignDownload returns a URL (SigV4, valid for expiry, at most 7 days)
// from which a client downloads the blob, whole or by Range, with the
// headers resp names (response-content-type, -disposition,
// -cache-control). It is signed for the public address when the URL set
// one. It does not check that the blob exists. The store's own ETag (an
// MD5 or multipart hash, not the SHA-256) is what the store answers with.
func (s *Store) PresignDownload(ctx context.Context, sha string, expiry time.Duration, resp blob.Response) (string, error) {
	const op = "s3.PresignDownload"
	if err := blob.CheckKey(op, sha); err != nil {
		return "", err
	}
	if expiry < time.Second || expiry > 7*24*time.Hour {
		return "", zoo.E(op, zoo.Invalid, nil, "invalid expiry %v: want 1s to 7 days", expiry)
	}
	params := url.Values{}
	for k, v := range map[string]string{"response-content-type": resp.ContentType, "response-content-disposition": resp.ContentDisposition, "response-cache-control": resp.CacheControl} {
		if v != "" {
			params.Set(k, v)
		}
	}
	u, err := s.signer.PresignedGetObject(ctx, s.bucket, s.blobKey(sha), expiry, params)
	if err != nil {
		return "", s.fail(op, err, "cannot sign a download of blob %s", sha)
	}
	return u.String(), nil
}

var _ blob.Presigner = (*Store)(nil)

// Open returns the blob for reading. Reads go to the server as ranged GETs
// starting at the current offset, one per Seek that moves it; they use ctx.
func (s *Store) Open(ctx context.Context, sha string) (zoo.Blob, error) {
	const op = "s3.Open"
	if err := blob.CheckKey(op, sha); err != nil {
		return nil, err
	}
	if err := s.unreachable(op); err != nil {
		return nil, err
	}
	key := s.blobKey(sha)
	sctx, cancel := s.bounded(ctx)
	info, err := s.client.StatObject(sctx, s.bucket, key, minio.StatObjectOptions{})
	cancel()
	s.answered(err)
	if err != nil {
		return nil, s.blobError(ctx, op, err, sha, "open")
	}
	return &object{ctx: ctx, s: s, sha: sha, key: key, size: info.Size}, nil
}

// object is an open blob: a read offset and, while reading sequentially,
// the body of a GET from that offset to the end.
type object struct {
	ctx    context.Context
	s      *Store
	sha    string
	key    string
	size   int64
	off    int64
	body   io.ReadCloser // nil until the next Read
	cancel func()        // ends body's request
	closed bool
}

func (o *object) Size() int64 { return o.size }

func (o *object) Read(p []byte) (int, error) {
	const op = "s3.Read"
	if o.closed {
		return 0, zoo.E(op, zoo.Internal, os.ErrClosed, "blob %s is closed", o.sha)
	}
	if o.off >= o.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if o.body == nil {
		opts := minio.GetObjectOptions{}
		if o.off > 0 {
			opts.SetRange(o.off, 0)
		}
		// The answer's start is bounded by the store's timeout; the body
		// then streams under the caller's context alone.
		if err := o.s.unreachable(op); err != nil {
			return 0, err
		}
		gctx, cancel := context.WithCancel(o.ctx)
		timer := time.AfterFunc(o.s.timeout, cancel)
		body, _, _, err := o.s.core.GetObject(gctx, o.s.bucket, o.key, opts)
		if !timer.Stop() { // the endpoint did not answer in time
			if err == nil {
				body.Close()
			}
			err = context.DeadlineExceeded
		}
		o.s.answered(err)
		if err != nil {
			cancel()
			return 0, o.s.blobError(o.ctx, op, err, o.sha, "read")
		}
		o.body, o.cancel = body, cancel
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	switch {
	case err == io.EOF && o.off < o.size:
		o.closeBody()
		return n, zoo.E(op, zoo.Internal, io.ErrUnexpectedEOF, "blob %s ended at %d of %d bytes", o.sha, o.off, o.size)
	case err == io.EOF:
		o.closeBody()
	case err != nil:
		o.closeBody()
		return n, o.s.blobError(o.ctx, op, err, o.sha, "read")
	}
	if err == io.EOF && n > 0 {
		err = nil // the next Read returns io.EOF
	}
	return n, err
}

// Seek moves the offset; the next Read starts a GET there when it moved.
func (o *object) Seek(offset int64, whence int) (int64, error) {
	const op = "s3.Seek"
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.off + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return o.off, zoo.E(op, zoo.Invalid, nil, "invalid whence %d", whence)
	}
	if abs < 0 {
		return o.off, zoo.E(op, zoo.Invalid, nil, "seek to a negative offset %d", abs)
	}
	if abs != o.off {
		o.closeBody()
		o.off = abs
	}
	return abs, nil
}

func (o *object) Close() error {
	o.closeBody()
	o.closed = true
	return nil
}

func (o *object) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.cancel()
		o.body, o.cancel = nil, nil
	}
}

// blobError translates an error of the S3 client about blob sha.
func (s *Store) blobError(ctx context.Context, op string, err error, sha, action string) error {
	if notFound(err) {
		if s.missingBucket(ctx) {
			return zoo.E(op, zoo.Internal, err, "bucket %s does not exist (create it, e.g. with EnsureBucket)", s.bucket)
		}
		return zoo.E(op, zoo.NotFound, err, "no blob %s", sha)
	}
	return s.fail(op, err, "cannot %s blob %s", action, sha)
}

// missingBucket reports whether the bucket is missing, after a 404 that
// may mean a missing key or a missing bucket (answers to HEAD carry no
// error code). Once the bucket has been seen it is not asked again.
func (s *Store) missingBucket(ctx context.Context) bool {
	if s.bucketOK.Load() {
		return false
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return false
	}
	s.bucketOK.Store(ok)
	return !ok
}

// fail translates an error of the S3 client.
func (s *Store) fail(op string, err error, format string, args ...any) error {
	var ze *zoo.Error
	if errors.As(err, &ze) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return zoo.E(op, zoo.Unavailable, err, "the S3 endpoint %s did not answer in time", s.endpoint)
	}
	if errors.Is(err, context.Canceled) {
		return zoo.E(op, zoo.Unavailable, err, "cancelled")
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		// Not an answer of the server: the network or the endpoint.
		return zoo.E(op, zoo.Unavailable, err, "cannot reach the S3 endpoint %s", s.endpoint)
	}
	switch {
	case resp.Code == "NoSuchBucket":
		return zoo.E(op, zoo.Internal, err, "bucket %s does not exist (create it, e.g. with EnsureBucket)", s.bucket)
	case notFound(err):
		return zoo.E(op, zoo.NotFound, err, format+": not found", args...)
	case resp.Code == "AccessDenied" || resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.StatusCode == 403:
		return zoo.E(op, zoo.Internal, err, "the S3 endpoint %s refused zoo's credentials (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", s.endpoint)
	case resp.Code == "SlowDown" || resp.StatusCode == 503:
		return zoo.E(op, zoo.Unavailable, err, format, args...)
	}
	return zoo.E(op, zoo.Internal, err, format, args...)
}

// notFound reports whether err is S3's answer for a missing key.
func notFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "NoSuchKey" || r.StatusCode == 404 && r.Code != "NoSuchBucket"
}
