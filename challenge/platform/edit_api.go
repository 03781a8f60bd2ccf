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

// maxModelField bounds the submit form's "model" field (ID/N).
const maxModelField = 256

// pageSubmit serves the challenge page's submit form (POST, multipart,
// the session's CSRF token checked by web before this runs): field
// "predictions" (a zip, at most Limits.MaxSubmission bytes) or "model"
// (ID/N), read part by part without buffering more than the zip. It
// answers 303 to the new submission's page, or a page saying why the
// submission was refused (not recorded, not counted).
func (h *Handler) pageSubmit(w http.ResponseWriter, r *http.Request) {
	const op = "challenge.Submit"
	slug, phase := r.PathValue("slug"), r.PathValue("phase")
	refuse := func(err error) {
		status := http.StatusBadRequest
		switch zoo.KindOf(err) {
		case zoo.Unauthorized:
			status = http.StatusUnauthorized
		case zoo.Forbidden:
			status = http.StatusForbidden
		case zoo.NotFound:
			status = http.StatusNotFound
		case zoo.Conflict:
			status = http.StatusConflict
		case zoo.TooLarge:
			status = http.StatusRequestEntityTooLarge
		case zoo.Internal, zoo.Unavailable:
			web.Fail(w, r, err)
			return
		}
		h.render(w, r, status, "refused", "Submission not accepted", map[string]any{"Slug": slug, "Message": zoo.MessageOf(err)})
	}
	u := web.UserOf(r)
	if u == nil {
		refuse(zoo.E(op, zoo.Unauthorized, nil, "log in to submit"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.maxSubmission()+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		refuse(zoo.E(op, zoo.Invalid, err, "send the form as multipart/form-data"))
		return
	}
	var zipData []byte
	var model string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			refuse(bodyErr(op, err, h.maxSubmission()))
			return
		}
		switch p.FormName() {
		case "predictions":
			b, err := io.ReadAll(io.LimitReader(p, h.maxSubmission()+1))
			if err != nil {
				refuse(bodyErr(op, err, h.maxSubmission()))
				return
			}
			if int64(len(b)) > h.maxSubmission() {
				refuse(zoo.E(op, zoo.TooLarge, nil, "the zip is larger than %d bytes, the most a submission may have", h.maxSubmission()))
				return
			}
			zipData = b
		case "model":
			b, err := io.ReadAll(io.LimitReader(p, maxModelField+1))
			if err != nil || len(b) > maxModelField {
				refuse(zoo.E(op, zoo.Invalid, err, "the model field is not ID/N"))
				return
			}
			model = strings.TrimSpace(string(b))
		}
		p.Close()
	}
	switch {
	case len(zipData) > 0 && model != "":
		refuse(zoo.E(op, zoo.Invalid, nil, "give either a predictions zip or a model ID/N, not both"))
		return
	case len(zipData) == 0 && model == "":
		refuse(zoo.E(op, zoo.Invalid, nil, "choose a predictions zip, or give a published model as ID/N"))
		return
	}
	sub, err := h.Svc.Submit(r.Context(), u, slug, phase, zipData, model)
	if err != nil {
		refuse(err)
		return
	}
	http.Redirect(w, r, "/challenges/"+slug+"/submissions/"+itoa(sub.ID), http.StatusSeeOther)
}
