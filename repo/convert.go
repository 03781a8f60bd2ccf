package repo

import (
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/spec"
)

// Conversion of pytorch_state_dict weights.
//
// A version whose weights zoo cannot run but can convert (NeedsConversion:
// pytorch_state_dict weights with the architecture shipped as a .py file,
// and neither TorchScript nor ONNX weights) is created "waiting" (its
// Converted.Status) and gets a JobConvert job instead of a test job. The
// job waits in the queue QueueConvert, which only processes that can
// convert (PyTorch and bubblewrap) work; until one has, the version shows
// "waiting for a converter" and its test stays pending. RunConvert
// converts the uploaded files with the configured Converter, stores the
// converted files, the runnable description and the runnable package as
// blobs beside the uploaded package (which never changes), records them
// with their provenance (SetConversion) and queues the test, which then
// tests the converted formats: Unpack and Description give the runnable
// package from then on.

// JobConvert is the queue kind of the conversion of a version's
// pytorch_state_dict weights (ConvertArgs); its jobs wait in QueueConvert.
const JobConvert = "convert-version"

// QueueConvert is the queue JobConvert jobs wait in: only processes that
// can convert work it, so a process without PyTorch or bubblewrap never
// takes a conversion.
const QueueConvert = "convert"

// ConvertArgs are the arguments of a JobConvert job.
type ConvertArgs struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// WaitingMessage is what a version waiting for its conversion shows.
const WaitingMessage = "waiting for a converter: a worker with PyTorch (python3-torch) and bubblewrap converts the pytorch_state_dict weights to TorchScript and ONNX; the test runs after that"

// Converter converts the package in dir (the uploaded files; it must not
// change them) and writes the whole package with the converted weights
// added and the description naming them into out (a folder that does not
// exist yet). An error of kind Invalid or NotSupported is the package's
// (recorded as a failed conversion with its message); any other error
// (e.g. Unavailable: this process cannot convert now) makes the job run
// again.
type Converter func(ctx context.Context, dir, out string) (*Converted, error)

// Converted is a Converter's outcome: Status is one of
// zoo.ConversionConverted, zoo.ConversionPartial, zoo.ConversionFailed;
// Formats are the formats added, each at its Path in out; Report is the
// converter's JSON report.
type Converted struct {
	Status       string
	Message      string
	TorchVersion string
	Formats      []zoo.ConvertedFormat
	Report       json.RawMessage
}

// NeedsConversion reports whether zoo converts the weights of m: it has
// pytorch_state_dict weights whose architecture is a .py file in the
// package, and no TorchScript or ONNX weights.
func NeedsConversion(m *spec.Model) bool {
	if m == nil || m.Weights.PytorchStateDict == nil || m.Weights.Torchscript != nil || m.Weights.ONNX != nil {
		return false
	}
	a := m.Weights.PytorchStateDict.Architecture
	return a != nil && a.Source != "" && a.ImportFrom == "" && !strings.Contains(a.Source, "://") &&
		!strings.Contains(m.Weights.PytorchStateDict.Source, "://")
}

// Waiting reports whether v waits for its conversion.
func Waiting(v *zoo.Version) bool {
	return v.Converted != nil && v.Converted.Status == zoo.ConversionWaiting
}

// RunnableFiles are the files of the package zoo runs for v: the uploaded
// files, with the converted weights files added and the runnable
// description in place of the uploaded one once v has been converted.
func RunnableFiles(v *zoo.Version) []zoo.File {
	c := v.Converted
	if c == nil || c.Description == nil {
		return v.Files
	}
	out := make([]zoo.File, 0, len(v.Files)+len(c.Files))
	for _, f := range v.Files {
		if f.Path == v.DescriptionFile {
			f = zoo.File{Path: v.DescriptionFile, SHA256: c.Description.SHA256, Size: c.Description.Size}
		}
		out = append(out, f)
	}
	out = append(out, c.Files...)
	slices.SortFunc(out, func(a, b zoo.File) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// UnpackUploaded writes the files of v as uploaded into dir (which must
// exist).
func (s *Service) UnpackUploaded(ctx context.Context, v *zoo.Version, dir string) error {
	for _, f := range v.Files {
		if err := s.unpack(ctx, f, filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil {
			return err
		}
	}
	return nil
}

// RunConvert is the JobConvert handler: it converts a waiting version,
// records the conversion and queues the version's test. It is idempotent:
// a version already converted (or failed) only gets its test queued
// again while the test is pending, so a job that ran twice, or whose
// worker died after recording, changes nothing.
func (s *Service) RunConvert(ctx context.Context, args ConvertArgs) error {
	const op = "repo.RunConvert"
	v, err := s.cat.Version(ctx, args.ID, args.Version)
	if err != nil {
		return err
	}
	if v.Converted == nil {
		return nil // nothing to convert
	}
	if !Waiting(v) {
		return s.queueTest(ctx, v)
	}
	if s.cfg.Converter == nil {
		return zoo.E(op, zoo.Unavailable, nil, "this process cannot convert PyTorch weights")
	}
	work, err := os.MkdirTemp(s.cfg.TempDir, "zoo-convert-*")
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot make a folder for the conversion")
	}
	defer os.RemoveAll(work)
	in, out := filepath.Join(work, "uploaded"), filepath.Join(work, "converted")
	if err := os.Mkdir(in, 0o755); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot make a folder for the conversion")
	}
	if err := s.UnpackUploaded(ctx, v, in); err != nil {
		return err
	}
	got, err := s.cfg.Converter(ctx, in, out)
	c := &zoo.Conversion{ZooVersion: s.cfg.ZooVersion}
	switch k := zoo.KindOf(err); {
	case err == nil:
		c.Status, c.Message, c.TorchVersion, c.Report = got.Status, got.Message, got.TorchVersion, got.Report
		if len(got.Formats) > 0 {
			if err := s.storeConverted(ctx, v, out, got.Formats, c); err != nil {
				return err
			}
		} else {
			c.Status = zoo.ConversionFailed
		}
	case k == zoo.Invalid || k == zoo.NotSupported:
		c.Status, c.Message = zoo.ConversionFailed, zoo.MessageOf(err)
	default:
		return err
	}
	now := s.now().UTC()
	c.At = &now
	if err := s.cat.SetConversion(ctx, v.ModelID, v.Number, c); err != nil {
		return err
	}
	v.Converted = c
	if s.cfg.Index != nil { // the index shows the formats that run
		if d, err := s.Description(ctx, v); err == nil {
			if err := s.cfg.Index.IndexVersion(ctx, v, d); err != nil {
				return err
			}
		}
	}
	return s.queueTest(ctx, v)
}

// queueTest queues the test of v while its test is pending.
func (s *Service) queueTest(ctx context.Context, v *zoo.Version) error {
	if s.queue == nil || v.TestStatus != zoo.TestPending {
		return nil
	}
	_, err := s.queue.Enqueue(ctx, JobTest, TestArgs{ID: v.ModelID, Version: v.Number})
	return err
}

// storeConverted puts the converted files of formats, the runnable
// description and the runnable package (the folder out) into the blob
// store and fills c with them.
func (s *Service) storeConverted(ctx context.Context, v *zoo.Version, out string, formats []zoo.ConvertedFormat, c *zoo.Conversion) error {
	const op = "repo.RunConvert"
	uploaded := map[string]bool{}
	for _, f := range v.Files {
		uploaded[f.Path] = true
	}
	put := func(rel string) (*zoo.File, error) {
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return nil, zoo.E(op, zoo.Internal, nil, "the converter named a file outside the package: %q", rel)
		}
		f, err := os.Open(filepath.Join(out, filepath.FromSlash(rel)))
		if err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "the converter did not write %s", rel)
		}
		defer f.Close()
		sha, size, err := s.blobs.Put(ctx, f)
		if err != nil {
			return nil, err
		}
		return &zoo.File{Path: rel, SHA256: sha, Size: size}, nil
	}
	for _, cf := range formats {
		cf.Path = path.Clean(cf.Path)
		if uploaded[cf.Path] {
			return zoo.E(op, zoo.Internal, nil, "the converted %s weights would replace the uploaded file %s", cf.Format, cf.Path)
		}
		f, err := put(cf.Path)
		if err != nil {
			return err
		}
		c.Files = append(c.Files, *f)
		c.Formats = append(c.Formats, cf)
	}
	d, err := put(v.DescriptionFile)
	if err != nil {
		return err
	}
	c.Description = d
	pkg, err := bundle.OpenDir(out, s.cfg.Limits)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot read the converted package")
	}
	defer pkg.Close()
	sha, size, err := s.storePackage(ctx, pkg)
	if err != nil {
		return err
	}
	c.Package = &zoo.File{Path: v.ModelID + "-" + strconv.Itoa(v.Number) + "-converted.zip", SHA256: sha, Size: size}
	return nil
}
