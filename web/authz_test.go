package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// actors in the order of the matrix columns: anonymous, contributor A (the
// uploader), contributor B, reviewer, admin.
var actors = []string{"", "alice", "bob", "rita", "root"}

func actorName(a string) string {
	if a == "" {
		return "anonymous"
	}
	return map[string]string{"alice": "A", "bob": "B", "rita": "reviewer", "root": "admin"}[a]
}

// TestAuthorizationMatrix: every actor × every action, each outcome (status
// code) asserted. Each cell gets fresh versions, so that cells do not
// depend on each other's state changes.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	data := packageZip(t, "upsample-onnx")
	ctx := t.Context()

	// upload stores a version as who (directly through the service).
	upload := func(who string, opts repo.UploadOptions) *zoo.Version {
		t.Helper()
		v, err := e.svc.Upload(ctx, e.users[who], bytes.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tested := func(v *zoo.Version) *zoo.Version { e.runTests(); return v }
	publish := func(v *zoo.Version) *zoo.Version {
		t.Helper()
		e.runTests()
		reviewer := e.users["rita"]
		if v.UploaderID == reviewer.ID {
			reviewer = e.users["root"]
		}
		v, err := e.svc.Review(ctx, reviewer, v.ModelID, v.Number, repo.Accept, "")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// own is the actor's own upload (alice's for anonymous); others' is
	// alice's, or bob's when the actor is alice.
	own := func(actor string) string {
		if actor == "" {
			return "alice"
		}
		return actor
	}
	others := func(actor string) string {
		if actor == "alice" {
			return "bob"
		}
		return "alice"
	}
	reviewBody := func(action string) string {
		return fmt.Sprintf(`{"action":%q,"comment":"please add a cover image"}`, action)
	}

	const (
		anon = iota
		A
		B
		R
		admin
	)
	type cell = [5]int
	rows := []struct {
		action string
		req    func(actor string) req
		want   cell // anonymous, A, B, reviewer, admin
		count  cell // for listings: the number of versions each sees (if set)
	}{
		{"upload a new model", func(string) req {
			return req{method: "POST", path: "/api/v1/models", body: bytes.NewReader(data)}
		}, cell{401, 201, 201, 201, 201}, cell{}},
		{"upload a version of A's model", func(string) req {
			v := upload("alice", repo.UploadOptions{})
			return req{method: "POST", path: "/api/v1/models?model=" + v.ModelID, body: bytes.NewReader(data)}
		}, cell{401, 201, 404, 403, 201}, cell{}}, // B: A's model has no public version, so it looks unknown (issue 15)
		{"get A's unpublished version", func(string) req {
			return req{method: "GET", path: versionPath(upload("alice", repo.UploadOptions{}))}
		}, cell{404, 200, 404, 200, 200}, cell{}},
		{"get A's draft as latest", func(string) req {
			return req{method: "GET", path: "/api/v1/models/" + upload("alice", repo.UploadOptions{Draft: true}).ModelID}
		}, cell{404, 404, 404, 404, 404}, cell{}},
		{"get A's published version", func(string) req {
			return req{method: "GET", path: versionPath(publish(upload("alice", repo.UploadOptions{})))}
		}, cell{200, 200, 200, 200, 200}, cell{}},
		{"get A's published model (latest)", func(string) req {
			return req{method: "GET", path: "/api/v1/models/" + publish(upload("alice", repo.UploadOptions{})).ModelID}
		}, cell{200, 200, 200, 200, 200}, cell{}},
		{"list the versions of A's model (1 published, 1 submitted)", func(string) req {
			v := publish(upload("alice", repo.UploadOptions{}))
			upload("alice", repo.UploadOptions{ModelID: v.ModelID})
			return req{method: "GET", path: "/api/v1/models/" + v.ModelID + "/versions"}
		}, cell{200, 200, 200, 200, 200}, cell{1, 2, 1, 2, 2}},
		{"list the versions of A's unpublished model", func(string) req {
			return req{method: "GET", path: "/api/v1/models/" + upload("alice", repo.UploadOptions{}).ModelID + "/versions"}
		}, cell{404, 200, 404, 200, 200}, cell{0, 1, 0, 1, 1}},
		{"list models", func(string) req {
			return req{method: "GET", path: "/api/v1/models"}
		}, cell{200, 200, 200, 200, 200}, cell{}},
		{"submit A's draft", func(string) req {
			return req{method: "POST", path: versionPath(upload("alice", repo.UploadOptions{Draft: true})) + "/submit"}
		}, cell{401, 200, 404, 403, 200}, cell{}},
		{"accept own upload", func(a string) req {
			return req{method: "POST", path: versionPath(tested(upload(own(a), repo.UploadOptions{}))) + "/review", body: strings.NewReader(reviewBody("accept"))}
		}, cell{401, 403, 403, 403, 403}, cell{}},
		{"accept another's upload", func(a string) req {
			return req{method: "POST", path: versionPath(tested(upload(others(a), repo.UploadOptions{}))) + "/review", body: strings.NewReader(reviewBody("accept"))}
		}, cell{401, 403, 403, 200, 200}, cell{}},
		{"request changes on own upload", func(a string) req {
			return req{method: "POST", path: versionPath(upload(own(a), repo.UploadOptions{})) + "/review", body: strings.NewReader(reviewBody("request-changes"))}
		}, cell{401, 403, 403, 403, 403}, cell{}},
		{"request changes on another's upload", func(a string) req {
			return req{method: "POST", path: versionPath(upload(others(a), repo.UploadOptions{})) + "/review", body: strings.NewReader(reviewBody("request-changes"))}
		}, cell{401, 403, 403, 200, 200}, cell{}},
		{"reject own upload", func(a string) req {
			return req{method: "POST", path: versionPath(upload(own(a), repo.UploadOptions{})) + "/review", body: strings.NewReader(reviewBody("reject"))}
		}, cell{401, 403, 403, 403, 403}, cell{}},
		{"reject another's upload", func(a string) req {
			return req{method: "POST", path: versionPath(upload(others(a), repo.UploadOptions{})) + "/review", body: strings.NewReader(reviewBody("reject"))}
		}, cell{401, 403, 403, 200, 200}, cell{}},
		{"retire A's published version", func(string) req {
			return req{method: "POST", path: versionPath(publish(upload("alice", repo.UploadOptions{}))) + "/retire", body: strings.NewReader(`{"reason":"superseded"}`)}
		}, cell{401, 200, 403, 403, 200}, cell{}},
		{"retire A's unpublished version", func(string) req {
			return req{method: "POST", path: versionPath(upload("alice", repo.UploadOptions{})) + "/retire", body: strings.NewReader(`{"reason":"superseded"}`)}
		}, cell{401, 409, 404, 403, 409}, cell{}},
		{"see the review queue", func(string) req {
			return req{method: "GET", path: "/api/v1/review-queue"}
		}, cell{401, 403, 403, 200, 200}, cell{}},
		{"download a file of A's unpublished version", func(string) req {
			v := upload("alice", repo.UploadOptions{})
			return req{method: "GET", path: fmt.Sprintf("/files/%s/%d/weights.onnx", v.ModelID, v.Number)}
		}, cell{404, 200, 404, 200, 200}, cell{}},
		{"download the package of A's unpublished version", func(string) req {
			v := upload("alice", repo.UploadOptions{})
			return req{method: "GET", path: fmt.Sprintf("/packages/%s/%d", v.ModelID, v.Number)}
		}, cell{404, 200, 404, 200, 200}, cell{}},
		{"download a file of A's published version", func(string) req {
			v := publish(upload("alice", repo.UploadOptions{}))
			return req{method: "GET", path: fmt.Sprintf("/files/%s/%d/weights.onnx", v.ModelID, v.Number)}
		}, cell{200, 200, 200, 200, 200}, cell{}},
		{"download the package of A's published model", func(string) req {
			return req{method: "GET", path: "/packages/" + publish(upload("alice", repo.UploadOptions{})).ModelID}
		}, cell{200, 200, 200, 200, 200}, cell{}},
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%-58s %9s %5s %5s %8s %5s\n", "action", "anonymous", "A", "B", "reviewer", "admin")
	for _, row := range rows {
		fmt.Fprintf(&table, "%-58s", row.action)
		for i, actor := range actors {
			r := row.req(actor)
			r.as = actor
			if r.body != nil && r.method == "POST" && !strings.HasPrefix(r.path, "/api/v1/models?") && r.path != "/api/v1/models" {
				r.header = map[string]string{"Content-Type": "application/json"}
			}
			res := e.do(r)
			fmt.Fprintf(&table, " %*d", []int{9, 5, 5, 8, 5}[i], res.StatusCode)
			if res.StatusCode != row.want[i] {
				t.Errorf("%s as %s: %d, want %d: %s", row.action, actorName(actor), res.StatusCode, row.want[i], res.body)
				continue
			}
			if res.StatusCode >= 400 {
				e.problem(res, row.want[i])
			}
			if row.count != (cell{}) && res.StatusCode == 200 {
				var l struct{ Versions []zoo.Version }
				json.Unmarshal(res.body, &l)
				if len(l.Versions) != row.count[i] {
					t.Errorf("%s as %s: sees %d versions, want %d", row.action, actorName(actor), len(l.Versions), row.count[i])
				}
			}
		}
		table.WriteString("\n")
	}
	t.Logf("authorization matrix (status codes):\n%s", table.String())
}
