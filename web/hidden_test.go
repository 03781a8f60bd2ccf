package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/repo"
)

// A model with only a draft answers another user exactly as an unknown
// id does — uploading to it with ?model=, reading it, its versions (issue
// 15: 403 against 404, and "has no published version" against "not
// found", revealed that it exists).
func TestHiddenModelLooksUnknown(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	data := packageZip(t, "upsample-onnx")
	draft := e.version(e.upload("alice", "?draft=1", data), http.StatusCreated)
	const unknown = "no-such-model"
	for _, tc := range []struct {
		what string
		do   func(id string) resp
	}{
		{"upload with ?model=", func(id string) resp { return e.upload("bob", "?model="+id, data) }},
		{"the model", func(id string) resp { return e.get("bob", "/api/v1/models/"+id) }},
		{"its version 1", func(id string) resp { return e.get("bob", "/api/v1/models/"+id+"/versions/1") }},
		{"its version 7", func(id string) resp { return e.get("bob", "/api/v1/models/"+id+"/versions/7") }},
		{"its versions", func(id string) resp { return e.get("bob", "/api/v1/models/"+id+"/versions") }},
		{"anonymously", func(id string) resp { return e.get("", "/api/v1/models/"+id) }},
	} {
		h, u := tc.do(draft.ModelID), tc.do(unknown)
		hb := strings.ReplaceAll(string(h.body), draft.ModelID, "ID")
		ub := strings.ReplaceAll(string(u.body), unknown, "ID")
		if h.StatusCode != u.StatusCode || hb != ub {
			t.Errorf("%s: the draft-only model answers %d %s; an unknown id %d %s", tc.what, h.StatusCode, hb, u.StatusCode, ub)
		}
	}
}
