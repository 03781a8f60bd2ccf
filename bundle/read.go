package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// dirBytesPerFile is what the central directory of a zip may spend per
// allowed entry (a header is 46 bytes plus name and extra fields; real ones
// average about 100). archive/zip parses the whole directory before the
// entries can be counted, so bounding the bytes it may read bounds the
// memory a hostile directory of tiny headers can make it allocate: each
// 47-byte header costs a few hundred bytes, about 27 MB in all with the
// default limits (measured; unbounded, 200,000 headers cost 49 MB).
const dirBytesPerFile = 512

// OpenZip reads the package zip r of size bytes. Every entry is checked —
// a safe relative name (no "..", absolute paths, backslashes or drive
// letters), no clash with another name (also ignoring case), a regular file
// (no links), not encrypted, Store or Deflate, within lim — and then
// decompressed once, streaming, to verify its size and CRC and record its
// sha256. A zip inside the package is just a file. The description must be
// at the top of the zip (spec.FindDescription). r must not change while
// the package is in use; the caller closes it after the package.
func OpenZip(r io.ReaderAt, size int64, lim Limits) (*Package, error) {
	const op = "bundle.OpenZip"
	lim = lim.orDefault()
	br := &budgetReader{r: r, budget: 128<<10 + int64(lim.MaxFiles)*dirBytesPerFile}
	zr, err := zip.NewReader(br, size)
	if errors.Is(err, zip.ErrInsecurePath) {
		err = nil // the checks below name the entry
	}
	if br.spent() {
		return nil, zoo.E(op, zoo.TooLarge, nil, "the zip's directory is larger than %d entries could need; a package holds at most %d files", lim.MaxFiles, lim.MaxFiles)
	}
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "not a readable zip file; a package is a zip (or a folder) holding rdf.yaml and its files")
	}
	br.unlimit()
	if len(zr.File) > lim.MaxFiles {
		return nil, zoo.E(op, zoo.TooLarge, nil, "the zip has %d entries; a package holds at most %d", len(zr.File), lim.MaxFiles)
	}
	if len(zr.File) == 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "the zip is empty; a package holds a description (rdf.yaml) and the files it references")
	}
	var (
		entries  []zentry
		names    = newNameSet()
		declared uint64
	)
	for _, zf := range zr.File {
		name, isDir := strings.CutSuffix(zf.Name, "/")
		mode := zf.Mode()
		isDir = isDir || mode.IsDir()
		if why := checkName(name); why != "" {
			return nil, zoo.E(op, zoo.Invalid, nil, "entry %q %s; rename it and zip the package again", zf.Name, why)
		}
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, zoo.E(op, zoo.Invalid, nil, "entry %q is a symbolic link; a package holds files only: replace the link with the file it points to", zf.Name)
		case isDir:
			if zf.UncompressedSize64 != 0 {
				return nil, zoo.E(op, zoo.Invalid, nil, "folder entry %q has content; the zip is corrupt: zip the package again", zf.Name)
			}
			if why := names.add(name, true); why != "" {
				return nil, zoo.E(op, zoo.Invalid, nil, "%s; rename one and zip the package again", why)
			}
			continue
		case !mode.IsRegular():
			return nil, zoo.E(op, zoo.Invalid, nil, "entry %q is not a regular file (%s); a package holds files only", zf.Name, mode.Type())
		case zf.Flags&0x1 != 0:
			return nil, zoo.E(op, zoo.NotSupported, nil, "entry %q is encrypted; zip the package again without a password", zf.Name)
		case zf.Method != zip.Store && zf.Method != zip.Deflate:
			return nil, zoo.E(op, zoo.NotSupported, nil, "entry %q uses compression method %d; zip the package again with Deflate (every zip tool's default) or without compression", zf.Name, zf.Method)
		case zf.Method == zip.Store && zf.CompressedSize64 != zf.UncompressedSize64:
			return nil, zoo.E(op, zoo.Invalid, nil, "entry %q is stored uncompressed but declares %d bytes stored and %d bytes of content; the zip is corrupt: zip the package again", zf.Name, zf.CompressedSize64, zf.UncompressedSize64)
		}
		u, c := zf.UncompressedSize64, zf.CompressedSize64
		if u > uint64(lim.MaxFileSize) {
			return nil, zoo.E(op, zoo.TooLarge, nil, "entry %q is %d bytes; a package file may have at most %d", zf.Name, u, lim.MaxFileSize)
		}
		if declared += u; declared > uint64(lim.MaxTotalSize) {
			return nil, zoo.E(op, zoo.TooLarge, nil, "the files of the zip add up to more than %d bytes (the limit) at entry %q", lim.MaxTotalSize, zf.Name)
		}
		if u > RatioFloor && float64(u) > lim.MaxRatio*float64(c) {
			return nil, zoo.E(op, zoo.TooLarge, nil, "entry %q expands from %d to %d bytes, more than %g:1 (zip bombs do this); if the file is genuine, zip it without compression", zf.Name, c, u, lim.MaxRatio)
		}
		if why := names.add(name, false); why != "" {
			return nil, zoo.E(op, zoo.Invalid, nil, "%s; rename one and zip the package again", why)
		}
		start, err := zf.DataOffset()
		if err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "entry %q has a broken header; zip the package again", zf.Name)
		}
		end := start + int64(c)
		if c > uint64(size) || end > size {
			return nil, zoo.E(op, zoo.Invalid, nil, "entry %q extends past the end of the zip; the file is truncated: upload or copy it again", zf.Name)
		}
		entries = append(entries, zentry{zf, start, end})
	}
	// Entries sharing compressed bytes make a small zip unpack to many
	// copies (an "overlapping" zip bomb); no zip tool writes them.
	sort.Slice(entries, func(i, j int) bool { return entries[i].start < entries[j].start })
	for i := 1; i < len(entries); i++ {
		if entries[i].start < entries[i-1].end {
			return nil, zoo.E(op, zoo.Invalid, nil, "entries %q and %q share data (a zip bomb trick); zip the package again", entries[i-1].zf.Name, entries[i].zf.Name)
		}
	}
	// macOS's "Compress" adds resource forks under __MACOSX/: not part of
	// the package.
	entries = slices.DeleteFunc(entries, func(ze zentry) bool { return strings.HasPrefix(ze.zf.Name, "__MACOSX/") })
	prefix := singleFolder(entries)
	p := &Package{}
	for _, ze := range entries {
		zf := ze.zf
		p.files = append(p.files, &entry{File: zoo.File{Path: strings.TrimPrefix(zf.Name, prefix), Size: int64(zf.UncompressedSize64)}, open: zf.Open})
	}
	if err := p.findDescription(op); err != nil {
		return nil, err
	}
	// Decompress every entry once, in the order of the data in the zip.
	for i, ze := range entries {
		e := p.files[i]
		err := digest(e, func() (io.ReadCloser, error) { return ze.zf.Open() }, e.Size, p.descText(e))
		if err == nil && e.Size != int64(ze.zf.UncompressedSize64) {
			err = errShort
		}
		if err != nil {
			return nil, zipEntryErr(op, ze.zf.Name, err)
		}
	}
	p.finish()
	return p, nil
}

// zentry is a zip entry with where its compressed data lies.
type zentry struct {
	zf         *zip.File
	start, end int64 // compressed data
}

// singleFolder returns "NAME/" when every entry sits in the one top-level
// folder NAME and the description is there, not at the top — a folder
// zipped the usual way (zip -r pkg.zip pkg/, Finder's or Explorer's
// Compress) — and "" otherwise. Stripping it keeps names unique.
func singleFolder(entries []zentry) string {
	prefix := ""
	var top []string
	for _, ze := range entries {
		dir, rest, ok := strings.Cut(ze.zf.Name, "/")
		if !ok || rest == "" {
			return ""
		}
		if prefix == "" {
			prefix = dir + "/"
		} else if prefix != dir+"/" {
			return ""
		}
		if !strings.Contains(rest, "/") {
			top = append(top, rest)
		}
	}
	if spec.FindDescription(top) == "" {
		return ""
	}
	return prefix
}

// errShort and errLong report content shorter or longer than declared.
var (
	errShort = errors.New("less data than declared")
	errLong  = errors.New("more data than declared")
)

func zipEntryErr(op, name string, err error) error {
	var ze *zoo.Error
	switch {
	case errors.As(err, &ze):
		return err
	case errors.Is(err, errLong), errors.Is(err, zip.ErrFormat):
		return zoo.E(op, zoo.Invalid, err, "entry %q decompresses to more bytes than the zip declares (a lying header) or has a broken data descriptor; the zip is corrupt or hostile: zip the package again", name)
	case errors.Is(err, errShort), errors.Is(err, io.ErrUnexpectedEOF):
		return zoo.E(op, zoo.Invalid, err, "entry %q decompresses to fewer bytes than the zip declares; the zip is truncated or corrupt: zip the package again", name)
	case errors.Is(err, zip.ErrChecksum):
		return zoo.E(op, zoo.Invalid, err, "entry %q fails its checksum; the zip is corrupt: upload or copy it again", name)
	}
	return zoo.E(op, zoo.Invalid, err, "entry %q cannot be decompressed; the zip is corrupt: zip the package again", name)
}

// OpenDir reads the package folder dir. Every file is checked like a zip
// entry — a safe name that does not clash with another ignoring case,
// within lim — and read once to record its size and sha256. Symbolic links
// are refused, not followed or skipped: a link can point outside the
// package, and skipping it would lose a file the description may need; the
// error says which link to replace with a copy. The folder is opened with
// os.Root, so files cannot be reached outside it even if links appear
// later. Close the package to release the folder.
func OpenDir(dir string, lim Limits) (*Package, error) {
	const op = "bundle.OpenDir"
	lim = lim.orDefault()
	root, err := os.OpenRoot(dir)
	if err != nil {
		kind := zoo.Invalid
		if errors.Is(err, fs.ErrNotExist) {
			kind = zoo.NotFound
		}
		return nil, zoo.E(op, kind, err, "cannot open the package folder %s", dir)
	}
	p := &Package{closers: []func() error{root.Close}}
	fail := func(err error) (*Package, error) {
		p.Close()
		return nil, err
	}
	names := newNameSet()
	count := 0
	var declared int64
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return zoo.E(op, zoo.Invalid, err, "cannot read %s in the package folder", name)
		}
		if name == "." {
			return nil
		}
		if count++; count > lim.MaxFiles {
			return zoo.E(op, zoo.TooLarge, nil, "the package folder has more than %d files and folders (the limit)", lim.MaxFiles)
		}
		if why := checkName(name); why != "" {
			return zoo.E(op, zoo.Invalid, nil, "%s %s; rename it", name, why)
		}
		typ := d.Type()
		switch {
		case typ&fs.ModeSymlink != 0:
			return zoo.E(op, zoo.Invalid, nil, "%s is a symbolic link; a package holds files only: replace the link with a copy of the file", name)
		case d.IsDir():
			if why := names.add(name, true); why != "" {
				return zoo.E(op, zoo.Invalid, nil, "%s; rename one", why)
			}
			return nil
		case !typ.IsRegular():
			return zoo.E(op, zoo.Invalid, nil, "%s is not a regular file (%s); a package holds files only", name, typ)
		}
		if why := names.add(name, false); why != "" {
			return zoo.E(op, zoo.Invalid, nil, "%s; rename one (they clash on macOS and Windows)", why)
		}
		info, err := d.Info()
		if err != nil {
			return zoo.E(op, zoo.Invalid, err, "cannot read %s in the package folder", name)
		}
		if info.Size() > lim.MaxFileSize {
			return zoo.E(op, zoo.TooLarge, nil, "%s is %d bytes; a package file may have at most %d", name, info.Size(), lim.MaxFileSize)
		}
		if declared += info.Size(); declared > lim.MaxTotalSize {
			return zoo.E(op, zoo.TooLarge, nil, "the files of the package folder add up to more than %d bytes (the limit) at %s", lim.MaxTotalSize, name)
		}
		p.files = append(p.files, &entry{File: zoo.File{Path: name}, open: func() (io.ReadCloser, error) { return openRegular(root, name) }})
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if err := p.findDescription(op); err != nil {
		return fail(err)
	}
	var total int64
	for _, e := range p.files {
		max := min(lim.MaxFileSize, lim.MaxTotalSize-total)
		if err := digest(e, e.open, max, p.descText(e)); err != nil {
			if errors.Is(err, errLong) {
				return fail(zoo.E(op, zoo.TooLarge, nil, "%s grew past the limits while it was read (at most %d bytes per file, %d in all)", e.Path, lim.MaxFileSize, lim.MaxTotalSize))
			}
			return fail(zoo.E(op, zoo.Invalid, err, "cannot read %s in the package folder", e.Path))
		}
		total += e.Size
	}
	p.finish()
	return p, nil
}

// openRegular opens name in root, refusing anything but a regular file
// (the folder may have changed since it was listed).
func openRegular(root *os.Root, name string) (io.ReadCloser, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is no longer a regular file", name)
	}
	return f, nil
}

// findDescription sets p.desc from the top-level file names.
func (p *Package) findDescription(op string) error {
	var top []string
	for _, e := range p.files {
		if !strings.Contains(e.Path, "/") {
			top = append(top, e.Path)
		}
	}
	if p.desc = spec.FindDescription(top); p.desc != "" {
		return nil
	}
	for _, e := range p.files {
		dir, base := path.Split(e.Path)
		if spec.FindDescription([]string{base}) != "" {
			return zoo.E(op, zoo.Invalid, nil, "the description is %s, inside the folder %s; a package has its description at the top: zip the folder's contents, not the folder", e.Path, dir)
		}
	}
	return zoo.E(op, zoo.Invalid, nil, "the package has no description at its top: expected %s", strings.Join(spec.DescriptionNames, ", "))
}

// digest reads e once through open, at most max bytes (more is errLong),
// and records its size, sha256 and CRC-32. With text non-nil it keeps the
// first bytes (up to the description parser's limit plus one) there.
func digest(e *entry, open func() (io.ReadCloser, error), max int64, text *[]byte) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	var keep io.Writer = io.Discard
	var buf bytes.Buffer
	if text != nil {
		keep = &limitedWriter{w: &buf, n: int64(spec.DefaultLimits.MaxBytes) + 1}
	}
	sum, crc := sha256.New(), crc32.NewIEEE()
	cbuf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(cbuf)
	n, err := io.CopyBuffer(io.MultiWriter(sum, crc, keep), io.LimitReader(rc, max+1), *cbuf)
	if err != nil {
		return err
	}
	if n > max {
		return errLong
	}
	e.Size, e.SHA256, e.crc = n, hex.EncodeToString(sum.Sum(nil)), crc.Sum32()
	if text != nil {
		*text = buf.Bytes()
	}
	return nil
}

// descText returns where digest keeps the text of e: the description's.
func (p *Package) descText(e *entry) *[]byte {
	if e.Path == p.desc {
		return &p.descData
	}
	return nil
}

// copyBuffers holds 256 KiB copy buffers: large enough that hashing, not
// calls, dominates; small enough that memory stays flat for any file size.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// limitedWriter keeps the first n bytes written and discards the rest.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(int64(len(b)), l.n)
		l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}

// budgetReader fails reads once budget bytes have been read (budget < 0:
// unlimited).
type budgetReader struct {
	r      io.ReaderAt
	mu     sync.Mutex
	budget int64
	over   bool
}

var errBudget = errors.New("zip directory larger than the limits allow")

func (b *budgetReader) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	if b.budget >= 0 {
		if int64(len(p)) > b.budget {
			b.over = true
			b.mu.Unlock()
			return 0, errBudget
		}
		b.budget -= int64(len(p))
	}
	b.mu.Unlock()
	return b.r.ReadAt(p, off)
}

func (b *budgetReader) spent() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

func (b *budgetReader) unlimit() {
	b.mu.Lock()
	b.budget = -1
	b.mu.Unlock()
}
