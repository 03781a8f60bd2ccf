// Package repo is the repository service: the life of a model version from
// upload to publication and retirement, with the permission rules, on top
// of the contracts in package zoo (Catalog, BlobStore) and a job queue.
//
// Lifecycle. An upload (a package zip) is read safely (bundle), validated
// at once (spec, with file checks) — an invalid package is refused with its
// report and nothing is stored — then its files and its deterministic zip
// go into the blob store, and only then one catalog transaction makes the
// version exist (state submitted, or draft on request; test status
// pending) together with its audit entry and, for a new model, the model
// itself (its nickname is drawn before, but reserved only then: a failed
// upload leaves no empty model), and a test job is queued. A reviewer's accept publishes in one transaction.
// Blobs are content-addressed and invisible until a version refers to them,
// so a crash at any point leaves either no version or a whole one; orphan
// blobs are removed by GC.
//
// Permissions. Anyone reads published and retired versions. Contributors
// upload; only a model's owner and maintainers (and admins) add versions
// to it. Reviewers accept, request changes or reject — never their own
// upload. Admins and the model's maintainers retire. Unpublished versions
// are visible only to their uploader, the model's maintainers, reviewers
// and admins; to others they do not exist (NotFound, not Forbidden, so
// nothing leaks).
package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/nickname"
	"github.com/zoo-bioimage/zoo/spec"
)

// JobTest is the queue kind of the reproducibility test of a version.
const JobTest = "test-version"

// TestArgs are the arguments of a JobTest job.
type TestArgs struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// Enqueuer queues background jobs (package queue implements it).
type Enqueuer interface {
	Enqueue(ctx context.Context, kind string, args any) (int64, error)
}

// Tester runs the reproducibility test of the package unpacked in dir
// (cmd/zoo wires the runner through testview.Tester) and returns the status
// and JSON report. It may also hand over the tensors its test produced for
// outputs that did not reproduce: it writes them as .npy files into out (an
// empty folder RunTest made and removes afterwards) and lists them in
// TestResult.Produced; RunTest stores them (see Produced) before it records
// the report.
type Tester func(ctx context.Context, dir, out string) (*TestResult, error)

// Config tunes a Service.
type Config struct {
	MaxUpload int64         // bytes; default 8 GiB
	TempDir   string        // where uploads wait while being checked ("" = os.TempDir())
	Limits    bundle.Limits // package limits
	Tester    Tester        // nil: test jobs fail with "no runtime configured"
	// MaxProduced bounds the bytes of produced tensors (see Produced) one
	// test run keeps: 0 = DefaultMaxProduced, negative = none.
	MaxProduced int64

	// Index, if set, is told of every stored version (any state) with its
	// description, right after the version is created and again when its
	// test result is recorded. Whoever reads the
	// index must itself restrict results to what is published, so an
	// indexed draft never shows; a failure is returned to the uploader as
	// Unavailable ("stored but not indexed") — the index's own Sync repairs
	// it.
	Index Indexer
	// Published, if set, is called after a version was published (accept),
	// e.g. to mint a DOI. It must not fail the review: it logs its own
	// errors and retries on its own.
	Published func(ctx context.Context, v *zoo.Version)
	// Converter, if set, converts the pytorch_state_dict weights of
	// versions that need it (RunConvert); ZooVersion is recorded with each
	// conversion.
	Converter  Converter
	ZooVersion string
	// KeepBlobs, if set, names more blobs GC must keep beside the
	// versions' (e.g. the images and results of inference jobs).
	KeepBlobs func(ctx context.Context, keep func(sha string) error) error
	// GCGrace spares, in GC, unreferenced blobs stored or re-stored (by
	// any Put of their content) less than GCGrace ago: an upload or a test
	// in progress may have stored them and not yet recorded the version or
	// report that refers to them. It needs a store that implements
	// blob.Aged (blob/disk, blob/s3). 0 spares nothing — safe only while
	// nothing writes; zoo gc uses DefaultGCGrace.
	GCGrace time.Duration
	// Now is the service's clock (default time.Now); tests set it.
	Now func() time.Time
}

// DefaultGCGrace is zoo gc's grace period (Config.GCGrace): far above the
// time between an upload's or a test's Put and the catalog write that
// refers to the blob (seconds), so that GC is safe at any time.
const DefaultGCGrace = time.Hour

// Indexer receives every stored version with its decoded description
// (package search implements it).
type Indexer interface {
	IndexVersion(ctx context.Context, v *zoo.Version, desc *spec.Model) error
}

// Service implements the repository's operations.
type Service struct {
	cat   zoo.Catalog
	blobs zoo.BlobStore
	queue Enqueuer
	cfg   Config
	now   func() time.Time
	descs descCache
}

// New returns a Service.
func New(cat zoo.Catalog, blobs zoo.BlobStore, queue Enqueuer, cfg Config) *Service {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 8 << 30
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{cat: cat, blobs: blobs, queue: queue, cfg: cfg, now: now}
}

// Catalog returns the service's catalog (for read-only listings).
func (s *Service) Catalog() zoo.Catalog { return s.cat }

// Blobs returns the service's blob store.
func (s *Service) Blobs() zoo.BlobStore { return s.blobs }

// UploadOptions qualify an upload.
type UploadOptions struct {
	Draft   bool   // keep the version as a draft (not in the review queue)
	ModelID string // add a version to this model (default: the description's id if it is ours, else a new model)
}

// InvalidPackage is returned by Upload for a package that fails validation;
// Report says why, with lines.
type InvalidPackage struct {
	Report *spec.Report
}

func (e *InvalidPackage) Error() string {
	msg := "the package's description is invalid"
	if len(e.Report.Errors) > 0 {
		p := e.Report.Errors[0]
		msg += fmt.Sprintf(": line %d: %s: %s", p.Line, p.Loc, p.Msg)
	}
	if n := len(e.Report.Errors); n > 1 {
		msg += fmt.Sprintf(" (and %d more)", n-1)
	}
	return msg
}

// Upload checks and stores a package zip read from r as a new version.
func (s *Service) Upload(ctx context.Context, u *zoo.User, r io.Reader, opts UploadOptions) (*zoo.Version, error) {
	const op = "repo.Upload"
	if err := require(u, zoo.RoleContributor, op, "upload"); err != nil {
		return nil, err
	}
	f, size, err := s.spool(r)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	pkg, err := bundle.OpenZip(f, size, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	defer pkg.Close()
	descName, descData := pkg.Description()
	res := spec.Validate(descData, descName, spec.Options{Files: true, FS: pkg})
	if !res.Report.OK() {
		return nil, zoo.E(op, zoo.Invalid, &InvalidPackage{Report: res.Report}, "the package's description is invalid; fix the problems listed in the report and upload again")
	}
	m, isNew, err := s.modelFor(ctx, u, res.Report, opts)
	if err != nil {
		return nil, err
	}
	var v *zoo.Version
	var desc []byte
	for attempt := 0; ; attempt++ {
		v, desc, err = s.store(ctx, u, pkg, descName, res, m, isNew, opts)
		if err == nil {
			break
		}
		if !isNew || zoo.KindOf(err) != zoo.Conflict || attempt >= 4 {
			return nil, err
		}
		// The nickname was taken meanwhile by a concurrent upload: draw
		// another one (the description, which names it, changes too).
		if m, err = s.newModel(ctx, u, res.Report); err != nil {
			return nil, err
		}
	}
	if s.cfg.Index != nil {
		d, err := spec.Decode(desc, descName)
		if err == nil {
			err = s.cfg.Index.IndexVersion(ctx, v, d)
		}
		if err != nil {
			return v, zoo.E(op, zoo.Unavailable, err, "the version was stored but could not be indexed for search; it will be indexed when the server restarts")
		}
	}
	if s.queue != nil {
		kind, args, what := JobTest, any(TestArgs{ID: v.ModelID, Version: v.Number}), "test"
		if Waiting(v) {
			kind, args, what = JobConvert, ConvertArgs{ID: v.ModelID, Version: v.Number}, "conversion"
		}
		if _, err := s.queue.Enqueue(ctx, kind, args); err != nil {
			return v, zoo.E(op, zoo.Unavailable, err, "the version was stored but its %s could not be queued; it will be retried", what)
		}
	}
	return v, nil
}

// store writes the package's blobs with the description naming model m and
// creates the version (and, when isNew, the model with it) with its audit
// entry in one catalog transaction. It returns the version and the stored
// description.
func (s *Service) store(ctx context.Context, u *zoo.User, pkg *bundle.Package, descName string, res *spec.Result, m *zoo.Model, isNew bool, opts UploadOptions) (*zoo.Version, []byte, error) {
	const op = "repo.Upload"
	_, descData := pkg.Description()
	desc, err := withID(descData, m.ID)
	if err != nil {
		return nil, nil, zoo.E(op, zoo.Invalid, err, "cannot set the id in the description")
	}
	pkg2 := pkg.WithDescription(desc)
	files, err := s.storeFiles(ctx, pkg2, descName)
	if err != nil {
		return nil, nil, err
	}
	zipSHA, zipSize, err := s.storePackage(ctx, pkg2)
	if err != nil {
		return nil, nil, err
	}
	report, _ := json.Marshal(res.Report)
	v := &zoo.Version{
		ModelID: m.ID, State: zoo.StateSubmitted, TestStatus: zoo.TestPending, UploaderID: u.ID,
		Name: descName, FormatVersion: res.Report.FormatVersion, DescriptionFile: bundle.DescriptionName,
		Files: files, PackageSHA256: zipSHA, PackageSize: zipSize, ValidationReport: report, CreatedAt: s.now(),
	}
	if name, d := summary(res); name != "" {
		v.Name, v.Description = name, d
	}
	if m, err := spec.Decode(desc, descName); err == nil && NeedsConversion(m) {
		v.Converted = &zoo.Conversion{Status: zoo.ConversionWaiting, Message: WaitingMessage}
	}
	if opts.Draft {
		v.State = zoo.StateDraft
	}
	var newModel *zoo.Model
	if isNew {
		newModel = m
	}
	e := zoo.AuditEntry{At: v.CreatedAt, ActorID: u.ID, Action: "upload", Detail: string(v.State)}
	if err := s.cat.CreateVersion(ctx, newModel, v, e); err != nil {
		return nil, nil, err
	}
	return v, desc, nil
}

// spool copies an upload to a temporary file (a zip needs random access),
// enforcing MaxUpload.
func (s *Service) spool(r io.Reader) (*os.File, int64, error) {
	const op = "repo.Upload"
	f, err := os.CreateTemp(s.cfg.TempDir, "zoo-upload-*.zip")
	if err != nil {
		return nil, 0, zoo.E(op, zoo.Internal, err, "cannot store the upload")
	}
	src := &blob.Source{Ctx: context.Background(), R: r}
	n, err := io.Copy(f, io.LimitReader(src, s.cfg.MaxUpload+1))
	switch {
	case err == nil && n > s.cfg.MaxUpload:
		err = zoo.E(op, zoo.TooLarge, nil, "the upload is larger than this server's limit of %d bytes", s.cfg.MaxUpload)
	case src.Err != nil:
		// The client's side: a body cut off (or over the web layer's
		// limit, which that layer reports) is not a server error.
		err = blob.ReadError(op, src.Err)
		if zoo.KindOf(err) == zoo.Internal {
			err = zoo.E(op, zoo.Invalid, src.Err, "the upload was interrupted after %d bytes; send it again", n)
		}
	case err != nil:
		err = zoo.E(op, zoo.Internal, err, "cannot store the upload on the server")
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

// modelFor finds the model a new version belongs to, or draws the id of a
// new one (isNew; the model is created only with its first version, so a
// failed upload leaves no empty model behind).
func (s *Service) modelFor(ctx context.Context, u *zoo.User, rep *spec.Report, opts UploadOptions) (m *zoo.Model, isNew bool, err error) {
	const op = "repo.Upload"
	id := opts.ModelID
	if id == "" && rep.ID != "" {
		if _, err := s.cat.Model(ctx, rep.ID); err == nil && s.hidden(ctx, u, rep.ID, nil) == nil {
			id = rep.ID
		}
	}
	if id != "" {
		m, err := s.cat.Model(ctx, id)
		if err != nil {
			return nil, false, err
		}
		if !canMaintain(u, m) {
			// A model without a published or retired version is nobody's
			// business but its maintainers': answer as for an unknown id,
			// so that the answer does not reveal that it exists.
			if err := s.hidden(ctx, u, id, nil); err != nil {
				return nil, false, err
			}
			return nil, false, zoo.E(op, zoo.Forbidden, nil, "only the maintainers of %s publish new versions of it; remove 'id' from the description to create a new model", id)
		}
		return m, false, nil
	}
	m, err = s.newModel(ctx, u, rep)
	return m, err == nil, err
}

// newModel draws a nickname no current model has (one used by a deleted
// model is refused by the catalog with Conflict when the version is
// created, and the upload draws again) and returns the model to create.
func (s *Service) newModel(ctx context.Context, u *zoo.User, rep *spec.Report) (*zoo.Model, error) {
	nick, err := nickname.New(func(id string) (bool, error) {
		_, err := s.cat.Model(ctx, id)
		if zoo.KindOf(err) == zoo.NotFound {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return nil, zoo.E("repo.Upload", zoo.Unavailable, err, "could not find a free model id; try again")
	}
	return &zoo.Model{ID: nick, Type: rep.Type, OwnerID: u.ID, Maintainers: []int64{u.ID}, CreatedAt: s.now()}, nil
}

// public reports whether model id has a published or retired version
// (whose existence anyone may know).
func (s *Service) public(ctx context.Context, id string) bool {
	_, err := s.cat.LatestPublished(ctx, id)
	return err == nil
}

func canMaintain(u *zoo.User, m *zoo.Model) bool {
	if u == nil {
		return false
	}
	if u.Role == zoo.RoleAdmin || u.ID == m.OwnerID {
		return true
	}
	for _, id := range m.Maintainers {
		if id == u.ID {
			return true
		}
	}
	return false
}

// summary returns the name and description of a valid description.
func summary(res *spec.Result) (string, string) {
	var d struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
	}
	if res.Doc == nil || res.Doc.Decode(&d) != nil {
		return "", ""
	}
	return d.Name, d.Description
}

// storeFiles puts every file in the blob store; the description is listed
// under its name in the package zip (rdf.yaml).
func (s *Service) storeFiles(ctx context.Context, pkg *bundle.Package, descName string) ([]zoo.File, error) {
	var out []zoo.File
	for _, f := range pkg.Files() {
		r, err := pkg.Open(f.Path)
		if err != nil {
			return nil, zoo.E("repo.Upload", zoo.Internal, err, "cannot read %s from the package", f.Path)
		}
		sha, size, err := s.blobs.Put(ctx, r)
		r.Close()
		if err != nil {
			return nil, err
		}
		if sha != f.SHA256 || size != f.Size {
			return nil, zoo.E("repo.Upload", zoo.Internal, nil, "%s changed while it was stored", f.Path)
		}
		if f.Path == descName {
			f.Path = bundle.DescriptionName
		}
		out = append(out, f)
	}
	return out, nil
}

// storePackage writes the deterministic zip into the blob store.
func (s *Service) storePackage(ctx context.Context, pkg *bundle.Package) (string, int64, error) {
	pr, pw := io.Pipe()
	go func() {
		_, _, err := bundle.Write(pw, pkg)
		pw.CloseWithError(err)
	}()
	sha, size, err := s.blobs.Put(ctx, pr)
	pr.CloseWithError(err)
	return sha, size, err
}

func require(u *zoo.User, min zoo.Role, op, what string) error {
	if u == nil {
		return zoo.E(op, zoo.Unauthorized, nil, "log in or send an API token to %s", what)
	}
	if u.Role.Rank() < min.Rank() {
		return zoo.E(op, zoo.Forbidden, nil, "only %ss may %s", min, what)
	}
	return nil
}

// ParseRef parses "ID" (n = 0: latest published) or "ID/N".
func ParseRef(ref string) (id string, n int, err error) {
	id, ns, ok := strings.Cut(strings.Trim(ref, "/"), "/")
	if id == "" {
		return "", 0, zoo.E("repo.ParseRef", zoo.Invalid, nil, "empty model reference; use ID or ID/N")
	}
	if !ok {
		return id, 0, nil
	}
	n, err = strconv.Atoi(ns)
	if err != nil || n < 1 {
		return "", 0, zoo.E("repo.ParseRef", zoo.Invalid, nil, "%q: the version must be a number ≥ 1 (ID/N)", ref)
	}
	return id, n, nil
}
