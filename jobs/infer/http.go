package infer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/metrics"
	"github.com/zoo-bioimage/zoo/preview"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/web"
)

// View is a job as the API shows it.
type View struct {
	ID            string            `json:"id"`
	Model         string            `json:"model"`
	Version       int               `json:"version"`
	State         jobs.State        `json:"state"`
	Progress      ProgressView      `json:"progress"`
	Message       string            `json:"message"`
	Error         string            `json:"error,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	ExpiresAt     time.Time         `json:"expires_at"`
	FinishedAt    *time.Time        `json:"finished_at,omitempty"`
	ResultFormats []string          `json:"result_formats"`
	Links         map[string]string `json:"links"`
}

// ProgressView is a job's progress in tiles (total 0 until planned).
type ProgressView struct {
	Done     int     `json:"done"`
	Total    int     `json:"total"`
	Fraction float64 `json:"fraction"`
}

// ViewOf is the API view of j.
func ViewOf(j *jobs.Job) View {
	v := View{ID: j.ID, Model: j.ModelID, Version: j.Version, State: j.State, Message: j.Message, Error: j.Error,
		CreatedAt: j.CreatedAt, ExpiresAt: j.ExpiresAt, ResultFormats: []string{},
		Progress: ProgressView{Done: j.Done, Total: j.Total}}
	if j.Total > 0 {
		v.Progress.Fraction = float64(j.Done) / float64(j.Total)
	}
	if j.State == jobs.Succeeded {
		v.Progress.Fraction = 1
		v.ResultFormats = []string{"tif", "npy"}
	}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt
		v.FinishedAt = &t
	}
	base := "/api/v1/jobs/" + j.ID
	v.Links = map[string]string{"self": base}
	if j.State != jobs.Expired {
		v.Links["input_preview"] = base + "/preview/input.png"
	}
	if j.State == jobs.Succeeded {
		v.Links["result_tif"] = base + "/result?format=tif"
		v.Links["result_npy"] = base + "/result?format=npy"
		v.Links["output_preview"] = base + "/preview/output.png"
	}
	return v
}

// Routes are the job API's routes (mounted through web.Options.Routes).
func (s *Service) Routes() []web.Route {
	return []web.Route{
		{Pattern: "POST /api/v1/jobs", Auth: true, Handler: http.HandlerFunc(s.serveSubmit), Doc: docSubmit},
		{Pattern: "GET /api/v1/jobs/{id}", Handler: http.HandlerFunc(s.serveGet), Doc: docGet},
		{Pattern: "DELETE /api/v1/jobs/{id}", Handler: http.HandlerFunc(s.serveCancel), Doc: docCancel},
		{Pattern: "GET /api/v1/jobs/{id}/result", Handler: http.HandlerFunc(s.serveResult), Doc: docResult},
		{Pattern: "GET /api/v1/jobs/{id}/preview/{which}", Handler: http.HandlerFunc(s.servePreview), Doc: docPreview},
	}
}

func (s *Service) serveSubmit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxInputBytes+1)
	j, err := s.Submit(r.Context(), web.UserOf(r), Submission{Model: q.Get("model"), Axes: q.Get("axes"),
		ContentType: r.Header.Get("Content-Type"), Body: r.Body, Client: web.ClientKey(r)})
	var busy *BusyError
	if errors.As(err, &busy) {
		metrics.Refuse(r.Context(), s.o.Logger, busy.LimitName(), http.StatusTooManyRequests, "client", web.ClientKey(r))
		writeBusy(w, busy)
		return
	}
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/jobs/"+j.ID)
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusAccepted, ViewOf(j))
}

// writeBusy answers 429 with Retry-After and a problem document (the web
// package's Kind table has no 429 row).
func writeBusy(w http.ResponseWriter, e *BusyError) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", strconv.Itoa(max(1, int(e.RetryAfter.Seconds()))))
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(map[string]any{"type": "urn:zoo:problem:busy", "title": "Too many jobs", "status": http.StatusTooManyRequests, "detail": e.Error()})
}

func (s *Service) serveGet(w http.ResponseWriter, r *http.Request) {
	j, err := s.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, ViewOf(j))
}

func (s *Service) serveCancel(w http.ResponseWriter, r *http.Request) {
	j, err := s.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, ViewOf(j))
}

// succeeded returns a job whose result can be read (Conflict otherwise).
func (s *Service) succeeded(r *http.Request) (*jobs.Job, error) {
	j, err := s.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if j.State != jobs.Succeeded {
		msg := "job " + j.ID + " is " + string(j.State) + "; its result can be downloaded once it has succeeded"
		if j.State == jobs.Expired {
			msg = "job " + j.ID + " expired and its result was deleted; submit the image again"
		}
		return nil, zoo.E("infer.Result", zoo.Conflict, nil, "%s", msg)
	}
	return j, nil
}

// downloadStem makes the name query parameter of a result download (the
// submitted file's name) a safe file-name stem: folders and extension dropped,
// only letters, digits, '.', '-' and '_' kept (others become '_'), at
// most 100 bytes; "" when nothing is left.
func downloadStem(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 { // a browser sends the base name; others may not
		name = name[i+1:]
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	if len(name) > 100 {
		name = name[:100]
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	s := strings.Trim(string(b), "._")
	return s
}

func (s *Service) serveResult(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "tif"
	}
	if format == "tiff" {
		format = "tif"
	}
	if format != "tif" && format != "npy" {
		web.Fail(w, r, zoo.E("infer.Result", zoo.Invalid, nil, "format %.20q: use tif or npy", format))
		return
	}
	j, err := s.succeeded(r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	ctx := r.Context()
	b, err := s.o.Repo.Blobs().Open(ctx, j.ResultSHA256)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	defer b.Close()
	name := j.ModelID + "-" + j.ID[:8]
	if stem := downloadStem(r.URL.Query().Get("name")); stem != "" {
		name = stem + "_prediction" // named after the person's image, as zoo predict does
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	if format == "npy" {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.npy"`)
		w.Header().Set("ETag", `"`+j.ResultSHA256+`"`)
		http.ServeContent(w, r, "", j.FinishedAt, b)
		return
	}
	y, err := npy.Read(b)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	v, err := s.o.Repo.Catalog().Version(ctx, j.ModelID, j.Version)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	m, err := s.o.Repo.Description(ctx, v)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	dir, err := os.MkdirTemp(s.o.TempDir, "zoo-job-result-")
	if err != nil {
		web.Fail(w, r, zoo.E("infer.Result", zoo.Internal, err, ""))
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "result.tif")
	if _, err := runner.WriteImage(path, runner.FormatTIFF, y, &m.Outputs[0]); err != nil {
		web.Fail(w, r, err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		web.Fail(w, r, zoo.E("infer.Result", zoo.Internal, err, ""))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "image/tiff")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.tif"`)
	http.ServeContent(w, r, "", j.FinishedAt, f)
}

func (s *Service) servePreview(w http.ResponseWriter, r *http.Request) {
	const op = "infer.Preview"
	which := r.PathValue("which")
	if which != "input.png" && which != "output.png" {
		web.Fail(w, r, zoo.E(op, zoo.NotFound, nil, "no preview %.20q: use input.png or output.png", which))
		return
	}
	popts, err := preview.ParseOptions(r.URL.Query())
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	ctx := r.Context()
	var t *tensor.Tensor
	if which == "input.png" {
		j, err := s.Job(ctx, r.PathValue("id"))
		if err == nil && j.State == jobs.Expired {
			err = zoo.E(op, zoo.Conflict, nil, "job %s expired and its image was deleted", j.ID)
		}
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		if t, err = s.readInput(ctx, j); err != nil {
			web.Fail(w, r, err)
			return
		}
	} else {
		j, err := s.succeeded(r)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		b, err := s.o.Repo.Blobs().Open(ctx, j.ResultSHA256)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		t, err = npy.Read(b)
		b.Close()
		if err != nil {
			web.Fail(w, r, err)
			return
		}
	}
	var buf bytes.Buffer
	if err := preview.PNG(&buf, t, popts); err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	io.Copy(w, &buf)
}
