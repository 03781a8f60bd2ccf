package infer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/web"
)

// submitFrom submits body from the loopback address ip, with token (if
// not "") as the bearer token; it returns the status and body.
func (r *rig) submitFrom(ip, token string, body []byte) (int, string) {
	r.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	q := fmt.Sprintf("model=%s/%d", r.v.ModelID, r.v.Number)
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/api/v1/jobs?"+q, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// One anonymous address cannot fill the queue, anonymous addresses
// together leave room for signed-in users, and a signed-in user has a
// quota of their own. Today one client could take every place of the
// queue (a signed-in user then got 429 on 19 of 30 tries).
func TestJobQuotas(t *testing.T) {
	r := newRig(t, func(o *infer.Options) {
		o.MaxActive, o.MaxPerClient, o.MaxAnonymous, o.MaxPerUser = 10, 2, 4, 3
		o.RetryAfter = 5 * time.Second
	})
	ctx := t.Context()
	cat := r.env.Svc.Catalog()
	u, err := cat.CreateUser(ctx, "ursula", zoo.RoleContributor)
	if err != nil {
		t.Fatal(err)
	}
	token := web.NewToken()
	if _, err := cat.CreateToken(ctx, u.ID, web.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	in := fixture(t, "test_input.npy")
	want := func(ip, token string, status int, msg string) string {
		t.Helper()
		st, b := r.submitFrom(ip, token, in)
		if st != status || !strings.Contains(b, msg) {
			t.Fatalf("from %s (token %v): %d %s; want %d with %q", ip, token != "", st, b, status, msg)
		}
		return b
	}
	var first infer.View
	json.Unmarshal([]byte(want("127.0.0.1", "", 202, "queued")), &first)
	want("127.0.0.1", "", 202, "queued")
	want("127.0.0.1", "", 429, "limit per address")
	want("127.0.0.2", "", 202, "queued")
	want("127.0.0.2", "", 202, "queued")
	want("127.0.0.3", "", 429, "anonymous jobs are taken")
	for range 3 {
		want("127.0.0.3", token, 202, "queued")
	}
	want("127.0.0.3", token, 429, "limit per user")

	// A finished (here: cancelled) job frees its submitter's place.
	req, _ := http.NewRequest(http.MethodDelete, r.srv.URL+"/api/v1/jobs/"+first.ID, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	want("127.0.0.1", "", 202, "queued")
	want("127.0.0.4", "", 429, "anonymous jobs are taken")
}
