package platform

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/web"
)

// maxReasonBody bounds a disqualification's JSON body or form, in bytes.
const maxReasonBody = 8 << 10

// patch serves PATCH /api/v1/challenges/{slug}: application/merge-patch+json
// or application/json, a Patch.
func (h *Handler) patch(w http.ResponseWriter, r *http.Request) {
	const op = "challenge.Update"
	u := web.UserOf(r)
	if u == nil {
		web.Fail(w, r, zoo.E(op, zoo.Unauthorized, nil, "log in to edit a challenge"))
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/merge-patch+json" && ct != "application/json" {
		web.Fail(w, r, zoo.E(op, zoo.Invalid, nil, "Content-Type %q: send the edit as application/merge-patch+json", ct))
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPatch))
	if err != nil {
		web.Fail(w, r, bodyErr(op, err, MaxPatch))
		return
	}
	p, err := ParsePatch(b)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	c, err := h.Svc.Update(r.Context(), u, r.PathValue("slug"), p)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, c)
}

func (h *Handler) withdraw(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	sub, err := h.Svc.Withdraw(r.Context(), web.UserOf(r), r.PathValue("slug"), id)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, sub)
}

// readReason reads {"reason": "…"}: at most maxReasonBody bytes of valid
// UTF-8, no other field.
func readReason(w http.ResponseWriter, r *http.Request) (string, error) {
	const op = "challenge.Disqualify"
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReasonBody))
	if err != nil {
		return "", bodyErr(op, err, maxReasonBody)
	}
	if !utf8.Valid(b) {
		return "", zoo.E(op, zoo.Invalid, nil, "the body is not valid UTF-8")
	}
	var body struct {
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return "", zoo.E(op, zoo.Invalid, nil, `send {"reason": "…"} (at most 500 characters): %s`, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", zoo.E(op, zoo.Invalid, nil, "the body has data after its JSON object")
	}
	return body.Reason, nil
}

func (h *Handler) disqualify(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	if web.UserOf(r) == nil {
		web.Fail(w, r, zoo.E("challenge.Disqualify", zoo.Unauthorized, nil, "log in as an organiser"))
		return
	}
	reason, err := readReason(w, r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	sub, err := h.Svc.Disqualify(r.Context(), web.UserOf(r), r.PathValue("slug"), id, reason)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, sub)
}

func (h *Handler) reinstate(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	sub, err := h.Svc.Reinstate(r.Context(), web.UserOf(r), r.PathValue("slug"), id)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, sub)
}

// pageAction serves the submission page's forms (POST, the session's
// CSRF token checked by web before this runs): withdraw, disqualify (form
// field "reason") and reinstate, then back to the submission page.
func (h *Handler) pageAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := parseID(r.PathValue("id"))
		if err != nil {
			h.pageFail(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxReasonBody)
		if err := r.ParseForm(); err != nil {
			h.pageFail(w, r, bodyErr("challenge.page", err, maxReasonBody))
			return
		}
		ctx, u, slug := r.Context(), web.UserOf(r), r.PathValue("slug")
		switch action {
		case "withdraw":
			_, err = h.Svc.Withdraw(ctx, u, slug, id)
		case "disqualify":
			_, err = h.Svc.Disqualify(ctx, u, slug, id, r.PostForm.Get("reason"))
		default:
			_, err = h.Svc.Reinstate(ctx, u, slug, id)
		}
		if err != nil {
			h.pageFail(w, r, err)
			return
		}
		http.Redirect(w, r, "/challenges/"+slug+"/submissions/"+r.PathValue("id"), http.StatusSeeOther)
	}
}
