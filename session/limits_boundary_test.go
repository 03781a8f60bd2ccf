package session

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSafeNextLength: a "next" path of exactly maxNextLen bytes is kept,
// one byte longer falls back to "/".
func TestSafeNextLength(t *testing.T) {
	at := "/" + strings.Repeat("a", maxNextLen-1)
	if got := SafeNext(at); got != at {
		t.Errorf("a %d-byte path became %q", len(at), got)
	}
	if got := SafeNext(at + "a"); got != "/" {
		t.Errorf("a %d-byte path was kept (%d bytes), want /", len(at)+1, len(got))
	}
}

// TestMultipartCSRFLength: a multipart form's csrf field of exactly
// maxCSRFValue bytes is read; one byte more is not a token.
func TestMultipartCSRFLength(t *testing.T) {
	for _, c := range []struct {
		n  int
		ok bool
	}{{maxCSRFValue, true}, {maxCSRFValue + 1, false}} {
		v := strings.Repeat("T", c.n)
		body := "--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + v + "\r\n--XX--\r\n"
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
		tok, _ := formToken(r)
		if (tok == v) != c.ok {
			t.Errorf("a %d-byte csrf field read as a %d-byte token; want read %v", c.n, len(tok), c.ok)
		}
	}
}

// TestRoundUpWording: waits are said in whole minutes, rounded up, with
// the singular for one.
func TestRoundUpWording(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "1 minute"}, {time.Minute, "1 minute"},
		{time.Minute + time.Second, "2 minutes"}, {10 * time.Minute, "10 minutes"},
	} {
		if got := roundUp(c.d); got != c.want {
			t.Errorf("roundUp(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
