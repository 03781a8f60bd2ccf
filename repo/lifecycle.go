package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/catalog"
)

// Get returns version n of model id (n = 0: the latest published), if u
// may see it. What u may not see is NotFound with the words an unknown
// id or number gets, so that answers do not reveal unpublished models or
// versions: a model without a published or retired version looks unknown
// to all but its maintainers, uploaders and reviewers.
func (s *Service) Get(ctx context.Context, u *zoo.User, id string, n int) (*zoo.Version, error) {
	var v *zoo.Version
	var err error
	if n == 0 {
		v, err = s.cat.LatestPublished(ctx, id)
	} else {
		v, err = s.cat.Version(ctx, id, n)
	}
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			return nil, s.hidden(ctx, u, id, err)
		}
		return nil, err
	}
	if !v.State.Public() {
		m, err := s.cat.Model(ctx, id)
		if err != nil {
			return nil, err
		}
		if !canSeeUnpublished(u, m, v) {
			return nil, s.hidden(ctx, u, id, catalog.VersionNotFound("repo.Get", id, n))
		}
	}
	return v, nil
}

// hidden is the NotFound error u gets about model id: notFound as it is
// when u may know the model exists (it has a public version, or u
// maintains or reviews), else the unknown model's.
func (s *Service) hidden(ctx context.Context, u *zoo.User, id string, notFound error) error {
	m, err := s.cat.Model(ctx, id)
	if err != nil {
		return err
	}
	if canMaintain(u, m) || u != nil && u.Role.Rank() >= zoo.RoleReviewer.Rank() || s.public(ctx, id) {
		return notFound
	}
	if u != nil {
		if vs, err := s.cat.ListVersions(ctx, zoo.VersionFilter{ModelID: id, UploaderID: u.ID}); err == nil && len(vs) > 0 {
			return notFound
		}
	}
	return catalog.ModelNotFound("repo.Get", id)
}

func canSeeUnpublished(u *zoo.User, m *zoo.Model, v *zoo.Version) bool {
	if u == nil {
		return false
	}
	return u.ID == v.UploaderID || u.Role.Rank() >= zoo.RoleReviewer.Rank() || canMaintain(u, m)
}

// Versions lists the versions of a model that u may see (NotFound, as for
// an unknown model, when there are none).
func (s *Service) Versions(ctx context.Context, u *zoo.User, id string) ([]*zoo.Version, error) {
	m, err := s.cat.Model(ctx, id)
	if err != nil {
		return nil, err
	}
	all, err := s.cat.ListVersions(ctx, zoo.VersionFilter{ModelID: id})
	if err != nil {
		return nil, err
	}
	var out []*zoo.Version
	for _, v := range all {
		if v.State.Public() || canSeeUnpublished(u, m, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, catalog.ModelNotFound("repo.Versions", id)
	}
	return out, nil
}

// ReviewQueue lists submitted versions, for reviewers.
func (s *Service) ReviewQueue(ctx context.Context, u *zoo.User) ([]*zoo.Version, error) {
	if err := require(u, zoo.RoleReviewer, "repo.ReviewQueue", "see the review queue"); err != nil {
		return nil, err
	}
	return s.cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StateSubmitted}})
}

// Review actions.
const (
	Accept         = "accept"
	RequestChanges = "request-changes"
	Reject         = "reject"
)

// Review applies a reviewer's decision. Accepting publishes at once.
func (s *Service) Review(ctx context.Context, u *zoo.User, id string, n int, action, comment string) (*zoo.Version, error) {
	const op = "repo.Review"
	if err := require(u, zoo.RoleReviewer, op, "review"); err != nil {
		return nil, err
	}
	v, err := s.cat.Version(ctx, id, n)
	if err != nil {
		return nil, err
	}
	if v.UploaderID == u.ID {
		return nil, zoo.E(op, zoo.Forbidden, nil, "nobody reviews their own upload; ask another reviewer")
	}
	var from []zoo.State
	var to zoo.State
	switch action {
	case Accept:
		switch {
		case v.TestStatus == zoo.TestPending && Waiting(v):
			// Its test runs once a converter has run, which this instance
			// may lack: the version may be published meanwhile, as one
			// zoo cannot test is; it is converted and tested later.
		case v.TestStatus == zoo.TestPending:
			return nil, zoo.E(op, zoo.Conflict, nil, "the test of %s/%d is still running; accept when it has finished", id, n)
		case v.TestStatus == zoo.TestFailed:
			return nil, zoo.E(op, zoo.Conflict, nil, "%s/%d failed its reproducibility test; request changes or reject it", id, n)
		}
		from, to = []zoo.State{zoo.StateSubmitted}, zoo.StatePublished
	case RequestChanges:
		if strings.TrimSpace(comment) == "" {
			return nil, zoo.E(op, zoo.Invalid, nil, "say which changes you request (--comment)")
		}
		from, to = []zoo.State{zoo.StateSubmitted}, zoo.StateChangesRequested
	case Reject:
		from, to = []zoo.State{zoo.StateSubmitted, zoo.StateChangesRequested}, zoo.StateRejected
	default:
		return nil, zoo.E(op, zoo.Invalid, nil, "unknown review action %q; use accept, request-changes or reject", action)
	}
	e := zoo.AuditEntry{At: s.now(), ActorID: u.ID, Action: action, ModelID: id, Version: n, Detail: comment}
	if err := s.cat.Transition(ctx, id, n, from, to, e); err != nil {
		return nil, err
	}
	v, err = s.cat.Version(ctx, id, n)
	if err == nil && to == zoo.StatePublished && s.cfg.Published != nil {
		s.cfg.Published(ctx, v)
	}
	return v, err
}

// Submit moves a draft into the review queue (its uploader or a maintainer).
func (s *Service) Submit(ctx context.Context, u *zoo.User, id string, n int) (*zoo.Version, error) {
	const op = "repo.Submit"
	v, m, err := s.own(ctx, u, id, n, op, "submit")
	if err != nil {
		return nil, err
	}
	_ = m
	e := zoo.AuditEntry{At: s.now(), ActorID: u.ID, Action: "submit", ModelID: id, Version: v.Number}
	if err := s.cat.Transition(ctx, id, n, []zoo.State{zoo.StateDraft}, zoo.StateSubmitted, e); err != nil {
		return nil, err
	}
	return s.cat.Version(ctx, id, n)
}

// Retire marks a published version retired: it still resolves, with the
// reason shown. Admins and the model's maintainers may retire.
func (s *Service) Retire(ctx context.Context, u *zoo.User, id string, n int, reason string) (*zoo.Version, error) {
	const op = "repo.Retire"
	if strings.TrimSpace(reason) == "" {
		return nil, zoo.E(op, zoo.Invalid, nil, "give the reason for retiring (users will read it)")
	}
	if _, _, err := s.own(ctx, u, id, n, op, "retire"); err != nil {
		return nil, err
	}
	e := zoo.AuditEntry{At: s.now(), ActorID: u.ID, Action: "retire", ModelID: id, Version: n, Detail: reason}
	if err := s.cat.Transition(ctx, id, n, []zoo.State{zoo.StatePublished}, zoo.StateRetired, e); err != nil {
		return nil, err
	}
	return s.cat.Version(ctx, id, n)
}

// own checks that u uploaded version n or maintains the model.
func (s *Service) own(ctx context.Context, u *zoo.User, id string, n int, op, what string) (*zoo.Version, *zoo.Model, error) {
	if err := require(u, zoo.RoleContributor, op, what); err != nil {
		return nil, nil, err
	}
	m, err := s.cat.Model(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.cat.Version(ctx, id, n)
	if err != nil {
		return nil, nil, err
	}
	if !canMaintain(u, m) && u.ID != v.UploaderID {
		if !v.State.Public() && !canSeeUnpublished(u, m, v) {
			return nil, nil, zoo.E(op, zoo.NotFound, nil, "no version %s/%d", id, n)
		}
		return nil, nil, zoo.E(op, zoo.Forbidden, nil, "only the maintainers of %s may %s it", id, what)
	}
	return v, m, nil
}

// FileOf returns the file at path p of a version (NotFound if absent).
func FileOf(v *zoo.Version, p string) (zoo.File, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	for _, f := range v.Files {
		if f.Path == p {
			return f, nil
		}
	}
	return zoo.File{}, zoo.E("repo.FileOf", zoo.NotFound, nil, "%s/%d has no file %q", v.ModelID, v.Number, p)
}

// Counts reports whether downloading file p counts as a download of the
// model: the whole package, or a weights file. Descriptions, covers, test
// tensors and documentation do not (tools fetch them to show a model).
func Counts(v *zoo.Version, p string) bool {
	if p == "" {
		return true
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".onnx", ".pt", ".pth", ".torch", ".h5", ".hdf5", ".pb", ".ckpt", ".safetensors", ".bin":
		return true
	}
	return strings.Contains(strings.ToLower(path.Base(p)), "weights")
}

// OnceCounter is what CountDownload needs of a catalog to count a
// client's downloads once a day; *sqlite.DB and *postgres.DB implement it
// (table download_clients).
type OnceCounter interface {
	// CountDownloadOnce counts a download of version n of id by client on
	// day (days since the epoch, UTC) unless client was counted for it
	// that day already, and reports whether it counted.
	CountDownloadOnce(ctx context.Context, id string, n int, client string, day int64) (bool, error)
}

// CountDownload records one download of a version (see Counts): once per
// client (ClientOf(ctx), as web records it; an IPv6 client by its /64
// prefix), version and UTC day, so that repeating a download does not
// raise the count that orders search results. A context without a client,
// or a catalog that is not a OnceCounter, counts every call.
func (s *Service) CountDownload(ctx context.Context, v *zoo.Version) error {
	addr := ClientOf(ctx)
	oc, ok := s.cat.(OnceCounter)
	if addr == "" || !ok {
		return s.cat.CountDownload(ctx, v.ModelID, v.Number)
	}
	day := s.now().UTC().Unix() / 86400
	_, err := oc.CountDownloadOnce(ctx, v.ModelID, v.Number, downloadKey(addr, day), day)
	return err
}

// downloadKey is the stored key of a client on a day: a hash of the day
// and the address (an IPv6 address by its /64 prefix, which one client
// usually holds whole), so the table keeps no addresses.
func downloadKey(addr string, day int64) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		if a = a.Unmap(); a.Is6() {
			p, _ := a.Prefix(64)
			addr = p.String()
		} else {
			addr = a.String()
		}
	}
	sum := sha256.Sum256([]byte(strconv.FormatInt(day, 10) + "|" + addr))
	return hex.EncodeToString(sum[:16])
}

type clientKey struct{}

// WithClient returns ctx carrying the address of the client a request came
// from (web sets it for every request, from web.ClientAddr), for rules per
// client such as download counting.
func WithClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// ClientOf returns the client address WithClient recorded ("" if none).
func ClientOf(ctx context.Context) string {
	a, _ := ctx.Value(clientKey{}).(string)
	return a
}

// RunTest is the JobTest handler: it unpacks the version, runs the
// configured Tester on a model — on another type (a dataset, …), which has
// nothing to run, CheckResource — and records the result. It is
// idempotent.
func (s *Service) RunTest(ctx context.Context, args TestArgs) error {
	const op = "repo.RunTest"
	v, err := s.cat.Version(ctx, args.ID, args.Version)
	if err != nil {
		return err
	}
	if Waiting(v) {
		return nil // RunConvert queues the test once the weights are converted
	}
	m, err := s.cat.Model(ctx, v.ModelID)
	if err != nil {
		return err
	}
	runs := m.Type == "model" // other types have nothing to run (CheckResource)
	if runs && s.cfg.Tester == nil {
		return zoo.E(op, zoo.NotSupported, nil, "this server has no model runtime configured")
	}
	dir, err := os.MkdirTemp(s.cfg.TempDir, "zoo-test-*")
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot unpack the version")
	}
	defer os.RemoveAll(dir)
	pkg := filepath.Join(dir, "package")
	if err := os.Mkdir(pkg, 0o755); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot unpack the version")
	}
	if err := s.Unpack(ctx, v, pkg); err != nil {
		return err
	}
	out := filepath.Join(dir, "produced")
	if err := os.Mkdir(out, 0o755); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot make a folder for the test's outputs")
	}
	var res *TestResult
	if runs {
		if res, err = s.cfg.Tester(ctx, pkg, out); err != nil {
			return err
		}
	} else {
		res = CheckResource(v, pkg)
	}
	if res == nil {
		return zoo.E(op, zoo.Internal, nil, "the tester returned no result")
	}
	report := res.Report
	if report == nil {
		report = json.RawMessage("null")
	}
	// Uploaders read the report: it must not show where this server keeps
	// its files (the package's own paths become relative to it).
	report = scrubPaths(report, pkg, []string{dir, s.cfg.TempDir, os.TempDir()})
	if !json.Valid(report) {
		return zoo.E(op, zoo.Internal, nil, "the test report is not JSON after removing the server's paths")
	}
	if len(res.Produced) > 0 {
		// Stored before the report that references them, so that a report
		// never names a missing blob.
		if report, err = s.storeProduced(ctx, report, res.Produced); err != nil {
			return err
		}
	}
	if err := s.cat.SetTestResult(ctx, v.ModelID, v.Number, res.Status, report); err != nil {
		return err
	}
	if s.cfg.Index != nil { // the index carries the test outcome as a facet
		if v, err = s.cat.Version(ctx, v.ModelID, v.Number); err != nil {
			return err
		}
		d, err := s.Description(ctx, v)
		if err != nil {
			return err
		}
		return s.cfg.Index.IndexVersion(ctx, v, d)
	}
	return nil
}

// MaxTestCrashes is how many times a version's test may stop its worker
// (the process died while running it: a crash, the kernel's OOM killer)
// before the test is recorded as failed instead of run again. A test
// that kills workers is not retried into a crash loop.
const MaxTestCrashes = 2

// FailCrashedTest records the test of args as failed because its worker
// died crashes times while running it (the JobTest handler calls it
// instead of RunTest once the job's rescue count reaches MaxTestCrashes).
// The report says so in the uploader's words. It is idempotent.
func (s *Service) FailCrashedTest(ctx context.Context, args TestArgs, crashes int) error {
	v, err := s.cat.Version(ctx, args.ID, args.Version)
	if err != nil {
		return err
	}
	report, err := json.Marshal(map[string]any{
		"source": "rdf.yaml",
		"status": "failed",
		"message": fmt.Sprintf("the test stopped the worker running it %d times (it crashed or ran out of memory); "+
			"it is not run again — make the model run within the server's limits and upload a new version", crashes),
		"formats": map[string]any{},
	})
	if err != nil {
		return zoo.E("repo.FailCrashedTest", zoo.Internal, err, "")
	}
	return s.cat.SetTestResult(ctx, v.ModelID, v.Number, zoo.TestFailed, report)
}

// Unpack writes the runnable package of v into dir (which must exist):
// every uploaded file and, once v has been converted, the converted
// weights with the description naming them (RunnableFiles). The caller
// checks that the caller may see v.
func (s *Service) Unpack(ctx context.Context, v *zoo.Version, dir string) error {
	for _, f := range RunnableFiles(v) {
		if err := s.unpack(ctx, f, filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) unpack(ctx context.Context, f zoo.File, dst string) error {
	if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
		return zoo.E("repo.RunTest", zoo.Invalid, nil, "file path %q leaves the package", f.Path)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	b, err := s.blobs.Open(ctx, f.SHA256)
	if err != nil {
		return err
	}
	defer b.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := copyCtx(ctx, out, b); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// GC deletes blobs no version refers to and returns how many it deleted.
// A version refers to its files and package, and to the produced tensors
// its current test report references (ProducedOf); those of a report a
// later test run replaced are no longer referenced.
//
// With Config.GCGrace (zoo gc: DefaultGCGrace) it is safe to run at any
// time, beside uploads and test jobs: a blob stored or re-stored within
// the grace period is spared — an upload may have stored it and not yet
// created its version — and the store deletes a blob only if no Put has
// refreshed it since the cutoff (blob.Aged.DeleteOlder), so content an
// upload re-stores while GC runs survives. Without a grace period, run it
// only while nothing writes.
func (s *Service) GC(ctx context.Context) (int, error) {
	var aged blob.Aged
	var cutoff time.Time
	if s.cfg.GCGrace > 0 {
		a, ok := s.blobs.(blob.Aged)
		if !ok {
			return 0, zoo.E("repo.GC", zoo.NotSupported, nil, "this blob store cannot tell when blobs were stored; it cannot be collected with a grace period")
		}
		aged, cutoff = a, time.Now().Add(-s.cfg.GCGrace)
	}
	keep := map[string]bool{}
	if err := s.cat.ReferencedBlobs(ctx, func(sha string) error { keep[sha] = true; return nil }); err != nil {
		return 0, err
	}
	vs, err := s.cat.ListVersions(ctx, zoo.VersionFilter{})
	if err != nil {
		return 0, err
	}
	for _, v := range vs {
		for _, p := range ProducedOf(v.TestReport) {
			keep[p.SHA256] = true
		}
	}
	if s.cfg.KeepBlobs != nil {
		if err := s.cfg.KeepBlobs(ctx, func(sha string) error { keep[sha] = true; return nil }); err != nil {
			return 0, err
		}
	}
	var drop []string
	if aged != nil {
		if err := aged.WalkAged(ctx, func(sha string, _ int64, mod time.Time) error {
			if !keep[sha] && mod.Before(cutoff) {
				drop = append(drop, sha)
			}
			return nil
		}); err != nil {
			return 0, err
		}
		n := 0
		for _, sha := range drop {
			del, err := aged.DeleteOlder(ctx, sha, cutoff)
			if err != nil {
				return n, err
			}
			if del {
				n++
			}
		}
		return n, nil
	}
	if err := s.blobs.Walk(ctx, func(sha string, _ int64) error {
		if !keep[sha] {
			drop = append(drop, sha)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	for _, sha := range drop {
		if err := s.blobs.Delete(ctx, sha); err != nil && zoo.KindOf(err) != zoo.NotFound {
			return 0, err
		}
	}
	return len(drop), nil
}
