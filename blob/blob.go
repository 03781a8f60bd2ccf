// Package blob holds what every zoo.BlobStore implementation shares: the
// key rule and the reader of a Put. The stores are in blob/disk and
// blob/s3; blob/blobtest is the conformance suite both pass.
package blob

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// CheckKey returns an Invalid error unless sha is a key: 64 lower-case hex
// digits (a sha256). Keys are checked before they reach a file system or a
// bucket, so that no key can name anything else ("../x").
func CheckKey(op, sha string) error {
	if !ValidKey(sha) {
		return zoo.E(op, zoo.Invalid, nil, "invalid blob key %q: want 64 lower-case hex digits (a sha256)", truncate(sha))
	}
	return nil
}

// ValidKey reports whether sha is 64 lower-case hex digits.
func ValidKey(sha string) bool {
	if len(sha) != 64 {
		return false
	}
	for i := 0; i < len(sha); i++ {
		if c := sha[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// truncate shortens a key for error messages.
func truncate(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// Source is the reader of a Put: it stops when the context ends and
// remembers its error, to tell read errors from write errors.
type Source struct {
	Ctx context.Context
	R   io.Reader
	Err error // the first error other than io.EOF
}

func (s *Source) Read(p []byte) (int, error) {
	if err := s.Ctx.Err(); err != nil {
		s.Err = err
		return 0, err
	}
	n, err := s.R.Read(p)
	if err != nil && err != io.EOF {
		s.Err = err
	}
	return n, err
}

// ReadError translates the error of a Put's reader: a zoo error (such as
// TooLarge from a limiting reader) passes through as it is.
func ReadError(op string, err error) error {
	var ze *zoo.Error
	switch {
	case errors.As(err, &ze):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return zoo.E(op, zoo.Unavailable, err, "upload cancelled")
	}
	return zoo.E(op, zoo.Internal, err, "cannot read the upload")
}

// Aged is what a store offers for garbage collection that is safe while
// uploads and tests write: every blob has a modification time that a Put
// of its content refreshes (also when the content was already stored),
// and a blob can be deleted only if it is still older than a cutoff.
// blob/disk and blob/s3 implement it; repo.Service.GC uses it to spare
// blobs written within its grace period, which an upload or a test may be
// about to reference.
type Aged interface {
	// WalkAged calls fn for every stored blob with its size and the time
	// it was last stored or re-stored by a Put.
	WalkAged(ctx context.Context, fn func(sha string, size int64, modified time.Time) error) error
	// DeleteOlder deletes the blob unless a Put has stored it again at or
	// after cutoff, and reports whether it deleted it (a missing blob is
	// not an error: false).
	DeleteOlder(ctx context.Context, sha string, cutoff time.Time) (bool, error)
}

// Response is what a presigned download answers with besides the bytes:
// the store sends these headers (S3's response-* overrides), so that a
// client redirected to the store gets what the server would have sent.
type Response struct {
	ContentType        string
	ContentDisposition string
	CacheControl       string
}

// Presigner is a blob store that can sign a time-limited URL from which
// clients download a blob (Range included) without credentials, straight
// from the store (blob/s3). The URL is a bearer capability until it
// expires: sign only what the caller may read.
type Presigner interface {
	PresignDownload(ctx context.Context, sha string, expiry time.Duration, resp Response) (string, error)
}
