package pages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/compat"
	"github.com/zoo-bioimage/zoo/preview"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
	"github.com/zoo-bioimage/zoo/web"
)

func itoa(n int) string { return strconv.Itoa(n) }

func asZoo(err error, ze **zoo.Error) bool { return errors.As(err, ze) }

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Limits of the search page's query parameters.
const (
	maxQueryText   = 512
	maxFilterCount = 32
	maxOffset      = 10000
	pageSize       = 24
)

// searchPage is the data of home and search.
type searchPage struct {
	Results *search.Results
	Facets  []facetView
	Sort    string
	Prev    string
	Next    string
	From    int
	To      int
	Home    bool
	// Loose: the strict query found nothing and these are the models that
	// match some of its words (Loose.Words), or a respelling to try.
	Loose *looseResult
}

type facetView struct {
	Name   string
	Values []facetValueView
}

type facetValueView struct {
	Value   string
	Label   string // what is shown (a tool's name for its id)
	Count   int
	Checked bool
}

// parseQuery reads a search query from the URL, with limits.
func parseQuery(q url.Values) (search.Query, error) {
	sq := search.Query{Text: q.Get("q"), Sort: q.Get("sort"), Limit: pageSize, Filters: map[string][]string{}}
	if len(sq.Text) > maxQueryText {
		sq.Text = sq.Text[:maxQueryText]
	}
	switch sq.Sort {
	case "", search.SortRelevance, search.SortDownloads, search.SortDate:
	default:
		return sq, zoo.E("pages.search", zoo.Invalid, nil, "unknown sort %q; use relevance, downloads or date", sq.Sort)
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxOffset {
			return sq, zoo.E("pages.search", zoo.Invalid, err, "offset must be a whole number from 0 to %d", maxOffset)
		}
		sq.Offset = n
	}
	count := 0
	for _, f := range search.Facets {
		for _, v := range q[f] {
			if v == "" || len(v) > 128 {
				continue
			}
			if count++; count > maxFilterCount {
				return sq, zoo.E("pages.search", zoo.Invalid, nil, "too many filters (at most %d)", maxFilterCount)
			}
			sq.Filters[f] = append(sq.Filters[f], v)
		}
	}
	return sq, nil
}

func (p *Pages) runSearch(ctx context.Context, sq search.Query) (*search.Results, error) {
	if p.opts.Search != nil {
		return p.opts.Search.Search(ctx, sq)
	}
	return p.scan(ctx, sq)
}

func (p *Pages) searchData(r *http.Request, home bool) (*searchPage, error) {
	q := r.URL.Query()
	sq, err := parseQuery(q)
	if err != nil {
		return nil, err
	}
	res, err := p.runSearch(r.Context(), sq)
	if err != nil {
		return nil, err
	}
	var loose *looseResult
	if res.Total == 0 && sq.Offset == 0 && strings.TrimSpace(sq.Text) != "" {
		lres, words, err := p.loosen(r.Context(), sq)
		if err != nil {
			return nil, err
		}
		loose = &looseResult{}
		if lres != nil && len(words) > 0 {
			res, loose.Words = lres, words
		}
		// A word that matched nothing may be misspelt.
		if loose.Suggest, err = p.suggest(r.Context(), sq.Text); err != nil {
			return nil, err
		}
	}
	d := &searchPage{Results: res, Sort: sq.Sort, Home: home, From: sq.Offset + 1, To: sq.Offset + len(res.Hits), Loose: loose}
	for _, f := range search.Facets {
		fv := facetView{Name: f}
		for _, v := range res.Facets[f] {
			label := v.Value
			if t := compat.Lookup(v.Value); f == search.FacetTool && t != nil {
				label = t.Name
			}
			fv.Values = append(fv.Values, facetValueView{v.Value, label, v.Count, slices.Contains(sq.Filters[f], v.Value)})
		}
		if len(fv.Values) > 0 {
			d.Facets = append(d.Facets, fv)
		}
	}
	page := func(off int) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("offset", strconv.Itoa(off))
		return "/search?" + q2.Encode()
	}
	if sq.Offset > 0 {
		d.Prev = page(max(0, sq.Offset-pageSize))
	}
	if sq.Offset+len(res.Hits) < res.Total && loose == nil {
		d.Next = page(sq.Offset + pageSize)
	}
	return d, nil
}

func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	d, err := p.searchData(r, true)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "search", "zoo — AI models for bioimage analysis", d)
}

func (p *Pages) search(w http.ResponseWriter, r *http.Request) {
	d, err := p.searchData(r, false)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	title := "Search"
	if t := r.URL.Query().Get("q"); t != "" {
		title = "Search: " + t
	}
	p.render(w, r, http.StatusOK, "search", title, d)
}

// modelPage is the data of /models/{id}[/{n}].
type modelPage struct {
	V         *zoo.Version
	Desc      *spec.Model
	Versions  []*zoo.Version
	Latest    bool
	Doc       template.HTML
	Test      *testReport
	Formats   []string
	Tools     []toolView
	Citation  string
	Inputs    []example
	Outputs   []example
	Base      string
	JSONLD    template.JS
	FilesBase string
	Snippets  []snippet
	MaxUpload string
	// TryIt: the try-it form is offered; else TryItWhy says why not ("" when
	// this server has no jobs API).
	TryIt    bool
	TryItWhy string
	// Browser: whether and how try-it runs in the visitor's browser
	// (browserrun.go); nil where this server does not offer it.
	Browser *BrowserRun
	// IO: what the model takes and gives, from the description.
	IO        []tensorView
	AnyTested bool // some tool's weight format passed zoo's test
	// Finetune: what fine-tuning is offered (nil: none on this server);
	// Children: published models fine-tuned from this one.
	Finetune *finetuneView
	Children []Child
}

type finetuneView struct {
	FinetuneOffer
	MaxUploadText string
	SignedIn      bool
}

type example struct {
	ID, Src, Alt string // ID is "" where it would repeat the caption ("Input input")
}

type snippet struct{ Tool, Code string }

// testReport is the part of runner.TestReport the page shows.
type testReport struct {
	Status  string                 `json:"status"`
	Message string                 `json:"message"`
	Formats map[string]*testFormat `json:"formats"`
	Order   []string
}

type testFormat struct {
	Status      string   `json:"status"`
	Runs        bool     `json:"runs"`
	Reproduces  bool     `json:"reproduces"`
	MaxAbsError *float64 `json:"max_abs_error"`
	Message     string   `json:"message"`
	// Outputs and Views: the produced tensors of a failed reproduction
	// (see produced.go).
	Outputs []comparison `json:"outputs"`
	Views   []producedView
	Skipped []repo.SkippedProduced `json:"produced_skipped"`
}

func versionNumber(r *http.Request) (int, error) {
	s := r.PathValue("n")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<30 {
		return 0, zoo.E("pages", zoo.NotFound, nil, "no version %q: versions are numbered 1, 2, …", s)
	}
	return n, nil
}

func (p *Pages) model(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := web.UserOf(r)
	id := r.PathValue("id")
	n, err := versionNumber(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v, err := p.svc.Get(ctx, u, id, n)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	desc, err := p.svc.Description(ctx, v)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	vs, err := p.svc.Versions(ctx, u, id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	slices.SortFunc(vs, func(a, b *zoo.Version) int { return b.Number - a.Number })
	d := &modelPage{V: v, Desc: desc, Versions: vs, Base: p.base(r), Formats: desc.Weights.Formats()}
	if p.opts.MaxJobUpload > 0 {
		d.MaxUpload = humanSize(p.opts.MaxJobUpload)
	}
	d.Latest = n == 0
	if len(v.TestReport) > 0 {
		var tr testReport
		if json.Unmarshal(v.TestReport, &tr) == nil {
			for _, f := range d.Formats {
				if tr.Formats[f] != nil {
					tr.Order = append(tr.Order, f)
				}
			}
			tr.linkProduced(v)
			d.Test = &tr
		}
	}
	d.Tools = tools(desc, v.TestReport)
	d.AnyTested = slices.ContainsFunc(d.Tools, func(t toolView) bool { return t.Tested })
	doi := ""
	if p.opts.DOI != nil && v.State.Public() {
		doi = p.opts.DOI(ctx, v)
	}
	d.Citation = citation(v, desc, d.Base, doi)
	if doc := p.documentation(ctx, v, desc); doc != "" {
		d.Doc = MarkdownFiles(doc, func(ref string) string {
			// Relative to the documentation file, which is relative to the description.
			target := path.Join(path.Dir(desc.Documentation), ref)
			if f, ok := findFile(v, target); ok {
				return funcs["filePath"].(func(string, int, string) string)(v.ModelID, v.Number, f.Path)
			}
			return ""
		})
	}
	for i, t := range desc.Inputs {
		if t.TestTensor != nil || t.SampleTensor != nil {
			d.Inputs = append(d.Inputs, example{captionID("Input", t.ID, len(desc.Inputs)), examplePath(v, "input", i), "example input " + t.ID})
		}
	}
	for i, t := range desc.Outputs {
		if t.TestTensor != nil || t.SampleTensor != nil {
			d.Outputs = append(d.Outputs, example{captionID("Output", t.ID, len(desc.Outputs)), examplePath(v, "output", i), "example output " + t.ID + " (the model's result on the example input)"})
		}
	}
	d.IO = tensorViews(desc)
	if p.opts.CanRun != nil {
		if err := p.opts.CanRun(desc); err != nil {
			d.TryItWhy = userMessage(err)
		} else {
			d.TryIt = true
			d.Browser = p.browserRun(w, v, desc)
		}
	}
	if p.opts.Finetune != nil {
		if o := p.opts.Finetune(desc); len(o.Tasks) > 0 {
			d.Finetune = &finetuneView{FinetuneOffer: o, SignedIn: u != nil}
			if o.MaxUpload > 0 {
				d.Finetune.MaxUploadText = humanSize(o.MaxUpload)
			}
		}
	}
	if p.opts.Children != nil && v.State.Public() {
		if cs, err := p.opts.Children(ctx, v.ModelID); err == nil {
			d.Children = cs
		} else {
			p.log.Warn("pages: fine-tuned children", "id", v.ModelID, "err", err)
		}
	}
	d.Snippets = snippets(v, desc, d.Base, compat.Declared(desc))
	if p.opts.JSONLD != nil && v.State.Public() {
		if b, err := p.opts.JSONLD(ctx, v, desc, d.Base); err == nil {
			d.JSONLD = template.JS(safeJSONInScript(b))
		} else {
			p.log.Warn("pages: JSON-LD", "id", v.ModelID, "err", err)
		}
	}
	if p.opts.Signposting != nil && v.State.Public() {
		if l := p.opts.Signposting(ctx, v, desc, d.Base); l != "" {
			w.Header().Set("Link", l)
		}
	}
	title := desc.Name
	if title == "" {
		title = v.ModelID
	}
	p.render(w, r, http.StatusOK, "model", title+" ("+v.ModelID+")", d)
}

// safeJSONInScript escapes what could end a script element.
func safeJSONInScript(b []byte) string {
	s := strings.ReplaceAll(string(b), "<", `\u003c`)
	s = strings.ReplaceAll(s, ">", `\u003e`)
	return strings.ReplaceAll(s, "&", `\u0026`)
}

func examplePath(v *zoo.Version, kind string, i int) string {
	return "/models/" + url.PathEscape(v.ModelID) + "/" + strconv.Itoa(v.Number) + "/examples/" + kind + "-" + strconv.Itoa(i) + ".png"
}

// toolView is one compatible tool on a model page.
type toolView struct {
	Name, URL string
	Tested    bool // a weight format it runs reproduced in zoo's test
}

// tools lists the tools whose declared support matches the model
// (compat.Declared, as the search facet "tool"), marking those for which a
// weight format they run passed zoo's test.
func tools(d *spec.Model, testReport json.RawMessage) []toolView {
	tested := compat.Tested(d, testReport)
	var out []toolView
	for _, id := range compat.Declared(d) {
		t := compat.Lookup(id)
		if t == nil {
			continue
		}
		tv := toolView{Name: t.Name, Tested: slices.Contains(tested, id)}
		if strings.HasPrefix(t.URL, "https://") {
			tv.URL = t.URL
		}
		out = append(out, tv)
	}
	return out
}

// citation is the text to cite: the description's first cite entry and
// this version's address.
func citation(v *zoo.Version, d *spec.Model, base, doi string) string {
	var b strings.Builder
	var names []string
	for _, a := range d.Authors {
		names = append(names, a.Name)
	}
	if len(names) > 0 {
		b.WriteString(strings.Join(names, ", ") + ". ")
	}
	year := v.CreatedAt.Year()
	if v.PublishedAt != nil {
		year = v.PublishedAt.Year()
	}
	where := fmt.Sprintf("%s/models/%s/%d", base, v.ModelID, v.Number)
	if doi != "" {
		where = "https://doi.org/" + doi
	}
	fmt.Fprintf(&b, "%s (version %d). zoo, %d. %s", d.Name, v.Number, year, where)
	for _, c := range d.Cite {
		b.WriteString("\n" + c.Text)
		if c.DOI != "" {
			b.WriteString(" https://doi.org/" + c.DOI)
		} else if c.URL != "" {
			b.WriteString(" " + c.URL)
		}
	}
	return b.String()
}

// dirName is a folder name for a downloaded version ("id/2" → "id-2").
func dirName(ref string) string { return strings.ReplaceAll(ref, "/", "-") }

// snippets are how-tos for the tools of declared (compat.Declared ids)
// only: a how-to for a tool not listed under "works with" would send
// people to a tool that cannot run the model.
func snippets(v *zoo.Version, d *spec.Model, base string, declared []string) []snippet {
	ref := fmt.Sprintf("%s/%d", v.ModelID, v.Number)
	pkg := fmt.Sprintf("%s/packages/%s/%d", base, v.ModelID, v.Number)
	all := []struct {
		tools []string // any of these declared shows the snippet
		s     snippet
	}{
		{[]string{"zoo"}, snippet{"zoo CLI", fmt.Sprintf("zoo download --server %s %s -o %s\nzoo predict --model %s --input input.tif --output predictions/", base, ref, dirName(ref), dirName(ref))}},
		{[]string{"deepimagej", "fiji"}, snippet{"Fiji / deepImageJ", fmt.Sprintf("1. Download the package: %s\n2. Fiji: Plugins › DeepImageJ › DeepImageJ Install Model › \"From ZIP file\" and choose the downloaded zip\n3. Open your image, then Plugins › DeepImageJ › DeepImageJ Run and pick \"%s\"", pkg, d.Name)}},
		{[]string{"ilastik"}, snippet{"ilastik", fmt.Sprintf("1. Download the package: %s\n2. ilastik: New Project › Neural Network Classification (Local)\n3. In \"NN Prediction\" click \"Load model\" and choose the downloaded zip", pkg)}},
		{[]string{"napari"}, snippet{"napari", fmt.Sprintf("pip install napari bioimageio.core\n# In napari: Plugins › bioimageio › load the model from\n#   %s", pkg)}},
		{[]string{"bioimageio.core"}, snippet{"Python (bioimageio.core)", fmt.Sprintf("from bioimageio.core import load_description, predict\nmodel = load_description(%q)\nresult = predict(model=model, inputs=\"input.tif\")", pkg)}},
	}
	var out []snippet
	for _, x := range all {
		if slices.ContainsFunc(x.tools, func(id string) bool { return slices.Contains(declared, id) }) {
			out = append(out, x.s)
		}
	}
	return out
}

// maxDocBytes bounds the documentation rendered.
const maxDocBytes = 1 << 20

// documentation reads the documentation file from the package ("" when
// absent or remote).
func (p *Pages) documentation(ctx context.Context, v *zoo.Version, d *spec.Model) string {
	if d.Documentation == "" {
		return ""
	}
	b, err := p.packageFile(ctx, v, d.Documentation, maxDocBytes)
	if err != nil {
		return ""
	}
	return string(b)
}

// findFile returns the version's file at path (a description reference,
// relative to the description's folder).
func findFile(v *zoo.Version, ref string) (zoo.File, bool) {
	dir := path.Dir(v.DescriptionFile)
	want := path.Clean(strings.TrimPrefix(ref, "./"))
	if dir != "." && dir != "" {
		want = path.Join(dir, want)
	}
	for _, f := range v.Files {
		if f.Path == want {
			return f, true
		}
	}
	return zoo.File{}, false
}

// packageFile reads a file of the version, at most limit bytes.
func (p *Pages) packageFile(ctx context.Context, v *zoo.Version, ref string, limit int64) ([]byte, error) {
	f, ok := findFile(v, ref)
	if !ok {
		return nil, zoo.E("pages", zoo.NotFound, nil, "the package has no file %s", ref)
	}
	if f.Size > limit {
		return nil, zoo.E("pages", zoo.TooLarge, nil, "%s is larger than %s", ref, humanSize(limit))
	}
	b, err := p.svc.Blobs().Open(ctx, f.SHA256)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(io.LimitReader(b, limit))
}

// maxExampleBytes bounds the example tensor read for a preview.
const maxExampleBytes = 256 << 20

// example renders an example tensor (test tensor, else sample) as PNG.
// name is input-I.png or output-I.png; query low/high set the contrast.
func (p *Pages) example(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n, err := versionNumber(r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	kind, idx, ok := strings.Cut(strings.TrimSuffix(name, ".png"), "-")
	i, err := strconv.Atoi(idx)
	if !ok || !strings.HasSuffix(name, ".png") || (kind != "input" && kind != "output") || err != nil || i < 0 || i > 64 {
		web.Fail(w, r, zoo.E("pages.example", zoo.NotFound, nil, "no example %q; use input-0.png or output-0.png", name))
		return
	}
	opts, err := preview.ParseOptions(r.URL.Query())
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	v, err := p.svc.Get(ctx, web.UserOf(r), r.PathValue("id"), n)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	desc, err := p.svc.Description(ctx, v)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	tensors := desc.Inputs
	if kind == "output" {
		tensors = desc.Outputs
	}
	if i >= len(tensors) {
		web.Fail(w, r, zoo.E("pages.example", zoo.NotFound, nil, "the model has %d %ss", len(tensors), kind))
		return
	}
	td := tensors[i]
	if opts.MaxSize == 0 || opts.MaxSize > 512 {
		opts.MaxSize = 512
	}
	public := v.State.Public()
	key := fmt.Sprintf("%s/%d/%s?%g,%g,%d,%d", v.ModelID, v.Number, name, opts.Low, opts.High, opts.MaxSize, opts.Channel)
	img, err := p.examples.get(ctx, key, public, func() ([]byte, error) {
		t := p.exampleTensor(ctx, v, td)
		if t == nil {
			return nil, zoo.E("pages.example", zoo.NotFound, nil, "%s %s has no readable example tensor", kind, td.ID)
		}
		var buf bytes.Buffer
		if err := preview.PNG(&buf, t, opts); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	})
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	if public {
		w.Header().Set("Cache-Control", "public, max-age=86400")
	} else {
		w.Header().Set("Cache-Control", "private, no-store")
	}
	w.Write(img)
}

// exampleTensor reads input or output td's example (test tensor, else
// sample), or nil.
func (p *Pages) exampleTensor(ctx context.Context, v *zoo.Version, td spec.Tensor) *tensor.Tensor {
	for _, fd := range []*spec.FileDescr{td.TestTensor, td.SampleTensor} {
		if fd == nil {
			continue
		}
		b, err := p.packageFile(ctx, v, fd.Source, maxExampleBytes)
		if err != nil {
			continue
		}
		if t, err := decodeTensor(fd.Source, b); err == nil {
			// Test tensors follow the description's axes; sample images
			// keep what their codec says.
			if len(t.Axes) == 0 && len(t.Shape) == len(td.Axes) {
				t.Axes = td.AxisIDs()
			}
			return t
		}
	}
	return nil
}

func decodeTensor(name string, b []byte) (*tensor.Tensor, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".npy":
		return npy.Read(bytes.NewReader(b))
	case ".png":
		return png.Read(bytes.NewReader(b))
	case ".tif", ".tiff":
		return tiff.Read(bytes.NewReader(b), int64(len(b)))
	}
	return nil, zoo.E("pages.example", zoo.NotSupported, nil, "example file %s: the pages show .npy, .png and .tif examples", name)
}

func (p *Pages) login(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = "/"
	}
	p.render(w, r, http.StatusOK, "login", "Log in", next)
}

// loginErrors are the messages the session manager's POST /login sends
// back in ?error= (session/http.go); the login page shows only these, so
// that a link cannot put its own words on this site's login page.
var loginErrors = regexp.MustCompile(`^(enter your API token|that is not an API token|unknown or revoked API token; ask an administrator for a new one|too many failed logins from your address; try again in [0-9]{1,4} minutes?)$`)

// queryMessages are the ?error= and ?done= texts a page shows: the login
// page's known messages, and the review page's outcomes of this server's
// own redirects (a review's done is "ID/N published" and the like).
func queryMessages(name string, q url.Values) (errMsg, notice string) {
	switch name {
	case "login":
		if e := q.Get("error"); loginErrors.MatchString(e) {
			errMsg = e
		} else if e != "" {
			errMsg = "the login did not succeed; paste your API token again"
		}
	case "review":
		errMsg = q.Get("error")
		if d := q.Get("done"); reviewDone.MatchString(d) {
			notice = d
		}
	}
	return errMsg, notice
}

var reviewDone = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}/[0-9]{1,10} (published|sent back for changes|rejected)$`)

// localPath reports whether s is a path on this server (no open redirects).
func localPath(s string) bool {
	return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, `/\`) && len(s) < 2048
}

// uploadPage is the data of /upload.
type uploadPage struct {
	Model  *zoo.Version // new-version flow: the model's latest version
	MaxMiB int64
}

func (p *Pages) upload(w http.ResponseWriter, r *http.Request) {
	if p.needLogin(w, r) {
		return
	}
	d := &uploadPage{}
	if id := r.URL.Query().Get("model"); id != "" {
		v, err := p.svc.Get(r.Context(), web.UserOf(r), id, 0)
		if err != nil {
			vs, err2 := p.svc.Versions(r.Context(), web.UserOf(r), id)
			if err2 != nil || len(vs) == 0 {
				// One answer whether the id is unknown or hidden from the
				// caller (a 403 would tell that a draft exists).
				if k := zoo.KindOf(err); k != zoo.NotFound && k != zoo.Forbidden && k != zoo.Unauthorized {
					p.fail(w, r, err)
					return
				}
				p.fail(w, r, zoo.E("pages.upload", zoo.NotFound, nil, "no model %.80q that you can see; check the id, or upload a new model", id))
				return
			}
			v = vs[len(vs)-1]
		}
		d.Model = v
	}
	p.render(w, r, http.StatusOK, "upload", "Upload a model", d)
}

// myPage lists the caller's uploads.
type myPage struct {
	Versions []*zoo.Version
}

func (p *Pages) my(w http.ResponseWriter, r *http.Request) {
	if p.needLogin(w, r) {
		return
	}
	u := web.UserOf(r)
	vs, err := p.svc.Catalog().ListVersions(r.Context(), zoo.VersionFilter{UploaderID: u.ID, Limit: 500})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	// The filter is the catalog's; check it again so that a backend that
	// ignores it cannot show another user's uploads.
	vs = slices.DeleteFunc(vs, func(v *zoo.Version) bool { return v.UploaderID != u.ID })
	slices.SortFunc(vs, func(a, b *zoo.Version) int { return b.CreatedAt.Compare(a.CreatedAt) })
	p.render(w, r, http.StatusOK, "my", "My submissions", &myPage{Versions: vs})
}

// reviewItem is one queued version with what a reviewer needs.
type reviewItem struct {
	V        *zoo.Version
	Previous int
	Diff     []DiffLine
	Test     *testReport
	Warnings []spec.JSONProblem
	// Same lists the versions holding the same content as V
	// (repo.Service.SameContent): a re-upload the reviewer should know of.
	Same []*zoo.Version
}

func (p *Pages) review(w http.ResponseWriter, r *http.Request) {
	if p.needLogin(w, r) {
		return
	}
	ctx := r.Context()
	u := web.UserOf(r)
	vs, err := p.svc.ReviewQueue(ctx, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	same, err := p.svc.SameContentEach(ctx, u, vs)
	if err != nil {
		p.log.Warn("review: same-content check failed", "err", err)
	}
	var items []reviewItem
	for _, v := range vs {
		it := reviewItem{V: v, Same: same[v]}
		cur, err := p.svc.RawDescription(ctx, v)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		var prev []byte
		for n := v.Number - 1; n >= 1; n-- {
			pv, err := p.svc.Get(ctx, u, v.ModelID, n)
			if err != nil {
				continue
			}
			if prev, err = p.svc.RawDescription(ctx, pv); err == nil {
				it.Previous = n
				break
			}
		}
		it.Diff = Diff(string(prev), string(cur))
		if len(v.TestReport) > 0 {
			var tr testReport
			if json.Unmarshal(v.TestReport, &tr) == nil {
				for f := range tr.Formats {
					tr.Order = append(tr.Order, f)
				}
				slices.Sort(tr.Order)
				tr.linkProduced(v)
				it.Test = &tr
			}
		}
		if len(v.ValidationReport) > 0 {
			var rep spec.JSONReport
			if json.Unmarshal(v.ValidationReport, &rep) == nil {
				it.Warnings = rep.Warnings
			}
		}
		items = append(items, it)
	}
	p.render(w, r, http.StatusOK, "review", "Review queue", items)
}

// maxComment bounds a review comment.
const maxComment = 8 << 10

func (p *Pages) reviewPost(w http.ResponseWriter, r *http.Request) {
	if web.UserOf(r) == nil {
		p.fail(w, r, zoo.E("pages.review", zoo.Unauthorized, nil, "log in as a reviewer to review"))
		return
	}
	n, err := versionNumber(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, zoo.E("pages.review", zoo.Invalid, err, "the review form could not be read"))
		return
	}
	comment := r.PostForm.Get("comment")
	if len(comment) > maxComment {
		p.fail(w, r, zoo.E("pages.review", zoo.TooLarge, nil, "the comment is longer than %d bytes", maxComment))
		return
	}
	action := r.PostForm.Get("action")
	id := r.PathValue("id")
	v, err := p.svc.Review(r.Context(), web.UserOf(r), id, n, action, comment)
	if err != nil {
		http.Redirect(w, r, "/review?error="+url.QueryEscape(reviewMessage(err)), http.StatusSeeOther)
		return
	}
	msg := map[string]string{repo.Accept: "published", repo.RequestChanges: "sent back for changes", repo.Reject: "rejected"}[action]
	http.Redirect(w, r, "/review?done="+url.QueryEscape(fmt.Sprintf("%s/%d %s", v.ModelID, v.Number, msg)), http.StatusSeeOther)
}

// userMessage is an error's message for the person, without the
// "not supported: " that zoo.MessageOf adds for the command line.
func userMessage(err error) string {
	var ze *zoo.Error
	if errors.As(err, &ze) && zoo.KindOf(err) != zoo.Internal && ze.Message != "" {
		return strings.TrimPrefix(ze.Message, "not supported: ")
	}
	return "this server cannot run it"
}

func reviewMessage(err error) string {
	var ze *zoo.Error
	if errors.As(err, &ze) && zoo.KindOf(err) != zoo.Internal {
		return ze.Message
	}
	return "the review could not be saved; try again"
}
