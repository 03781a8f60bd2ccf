package bundle

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// DescriptionName is the name of the description in a zip Write produces
// (reference §19).
const DescriptionName = "rdf.yaml"

// MS-DOS date and time of 1980-01-01 00:00, the earliest a zip can hold:
// every entry gets it, so that a file's modification time never changes
// the package.
const (
	dosDate1980 = 1<<5 | 1
	dosTime0    = 0
)

// Write writes pkg to w as a zip and returns the zip's sha256 and size.
//
// The output depends only on the files' names and contents: the
// description first as rdf.yaml, then the other files sorted by path; every
// entry dated 1980-01-01, mode 0644, no extra fields or comments. Entries
// are stored, not compressed, because (1) Deflate's output is not promised
// to stay the same across Go releases, and a package's sha256 must not
// change when zoo is rebuilt; (2) the bulk of a package — float weights and
// tensors — shrinks by less than 10 %; (3) stored entries can be served
// with range requests straight from the zip; (4) writing is I/O bound.
// Sizes and CRCs come from opening the package, so headers need no data
// descriptors and w need not seek. Each file is re-read and its sha256
// checked while it is copied: a file that changed since the package was
// opened fails Write with a Conflict error (discard what was written).
func Write(w io.Writer, pkg *Package) (sha string, size int64, err error) {
	const op = "bundle.Write"
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	zw := zip.NewWriter(cw)
	desc := pkg.index[pkg.desc]
	order := append(make([]*entry, 0, len(pkg.files)), desc)
	top := []string{DescriptionName}
	for _, e := range pkg.files {
		if e == desc {
			continue
		}
		if fold(e.Path) == fold(DescriptionName) {
			return "", 0, zoo.E(op, zoo.Invalid, nil, "the package holds %s besides its description %s, which is written as %s; remove or rename %s", e.Path, pkg.desc, DescriptionName, e.Path)
		}
		if !strings.Contains(e.Path, "/") {
			top = append(top, e.Path)
		}
		order = append(order, e)
	}
	// Another description-like name that sorts first would be taken for
	// the description when the zip is read (spec.FindDescription).
	if got := spec.FindDescription(top); got != DescriptionName {
		return "", 0, zoo.E(op, zoo.Invalid, nil, "the package holds %s, which would be taken for its description once %s is written as %s; remove or rename %s", got, pkg.desc, DescriptionName, got)
	}
	for _, e := range order {
		name := e.Path
		if e == desc {
			name = DescriptionName
		}
		fh := &zip.FileHeader{
			Name:               name,
			Method:             zip.Store,
			CRC32:              e.crc,
			CompressedSize64:   uint64(e.Size),
			UncompressedSize64: uint64(e.Size),
			ModifiedDate:       dosDate1980,
			ModifiedTime:       dosTime0,
			ReaderVersion:      20,
		}
		if e.Size >= math.MaxUint32 {
			fh.ReaderVersion = 45 // zip64
		}
		fh.SetMode(0o644)
		fh.CreatorVersion |= fh.ReaderVersion
		fw, err := zw.CreateRaw(fh)
		if err != nil {
			return "", 0, zoo.E(op, zoo.Internal, err, "cannot write %s", name)
		}
		if err := copyChecked(fw, e); err != nil {
			return "", 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return "", 0, zoo.E(op, zoo.Internal, err, "cannot write the zip")
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

// copyChecked copies e to w, failing if its content is not what was
// recorded when the package was opened.
func copyChecked(w io.Writer, e *entry) error {
	const op = "bundle.Write"
	rc, err := e.open()
	if err != nil {
		return zoo.E(op, zoo.Conflict, err, "cannot open %s again; open the package again", e.Path)
	}
	defer rc.Close()
	h := sha256.New()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(rc, e.Size+1), *buf)
	if err != nil {
		var ze *zoo.Error
		if errors.As(err, &ze) {
			return err
		}
		return zoo.E(op, zoo.Internal, err, "cannot copy %s into the zip", e.Path)
	}
	if n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return changed(e.Path)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
