package oai

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Resumption tokens are stateless: the token carries the list request's
// arguments and the position reached, encoded as base64url JSON and signed
// with HMAC-SHA256 (truncated to 128 bits) under Options.Key. Any server
// replica with the same key resumes it. The signature detects edited or
// corrupted tokens, so that a token whose arguments were changed is refused
// with badResumptionToken; it is not access control (everything listed is
// public).
//
// The position is a key (datestamp, model id, version number) in the list's
// order, not an offset: records published while a harvest runs do not shift
// the pages, and no record is returned twice unless its datestamp changes
// (a retirement) between pages.
type token struct {
	Verb   string `json:"v"`
	Prefix string `json:"m"`
	Set    string `json:"s,omitempty"`
	From   string `json:"f,omitempty"`
	Until  string `json:"u,omitempty"`
	// Cursor is how many records came before this page.
	Cursor int `json:"c"`
	// After is the last key of the previous page.
	AfterTime int64  `json:"t"` // Unix nanoseconds
	AfterID   string `json:"i"`
	AfterN    int    `json:"n"`
	// Expires is when the token stops being accepted (Unix seconds).
	Expires int64 `json:"e"`
}

const macLen = 16

func encodeToken(t token, key []byte) string {
	b, _ := json.Marshal(t) // plain struct: cannot fail
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(sign(payload, key))
}

func sign(payload string, key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:macLen]
}

// decodeToken checks a token's signature, verb and expiry.
func decodeToken(s, verb string, key []byte, now time.Time) (token, *protoError) {
	var t token
	bad := func(msg string) (token, *protoError) {
		return token{}, perr(BadResumptionToken, "%s; start the list again without a resumptionToken", msg)
	}
	payload, mac, ok := strings.Cut(s, ".")
	if !ok || len(s) > MaxArg {
		return bad("the resumptionToken is not one this repository issued")
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, sign(payload, key)) {
		return bad("the resumptionToken is not one this repository issued, or it was changed")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(b, &t) != nil {
		return bad("the resumptionToken cannot be read")
	}
	if t.Verb != verb {
		return bad("the resumptionToken belongs to " + t.Verb + ", not " + verb)
	}
	if now.Unix() > t.Expires {
		return bad("the resumptionToken has expired")
	}
	if t.Cursor < 0 {
		return bad("the resumptionToken cannot be read")
	}
	return t, nil
}
