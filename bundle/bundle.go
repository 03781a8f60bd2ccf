// Package bundle reads and writes bioimage.io packages: a description
// (rdf.yaml) and the files it references, as a zip or a folder.
//
// Reading (OpenZip, OpenDir) is safe on hostile input: names may not
// escape the package or clash when unpacked, links are refused, and the
// number of files, their sizes and their compression ratios are bounded
// (Limits) while the bytes are actually decompressed, never trusting the
// sizes a zip declares. Every file is read once on opening, streaming, to
// record its size and sha256 (Files).
//
// Writing (Write) produces a deterministic zip: the description as rdf.yaml
// first, the other files sorted, fixed timestamps and permissions, entries
// stored uncompressed — the same files always give the same bytes.
//
// Build makes a package from a description: it copies every file the
// description references under its bare name in the top folder, rewrites
// the references in the yaml text (comments survive) and fills in missing
// sha256 values (reference §19).
//
// Every refusal is a *zoo.Error (Kind Invalid, TooLarge, NotSupported,
// Conflict) whose message names the entry and says what to do.
package bundle

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// Package is a package whose files have been checked and hashed. It is an
// fs.FS of its files (folders are implied by the file paths; empty folders
// are dropped), so that spec.Options{Files: true, FS: pkg} validates it.
// Reading a file again checks it still has the size recorded on opening.
// A Package is safe for concurrent use once opened.
type Package struct {
	desc     string // path of the description among files
	descData []byte
	files    []*entry // sorted by path
	index    map[string]*entry
	closers  []func() error
}

// entry is one file of a package.
type entry struct {
	zoo.File
	crc  uint32 // CRC-32 (IEEE) of the content, for the zip headers
	open func() (io.ReadCloser, error)
}

// Files returns every file of the package (the description included) with
// its size and sha256, sorted by path.
func (p *Package) Files() []zoo.File {
	out := make([]zoo.File, len(p.files))
	for i, e := range p.files {
		out[i] = e.File
	}
	return out
}

// Description returns the path of the description in the package and its
// text. The text is cut one byte past spec.DefaultLimits.MaxBytes, so that
// validating it reports the size.
func (p *Package) Description() (name string, data []byte) { return p.desc, p.descData }

// Close releases what the package holds open (a folder, temporary files of
// fetched downloads). The reader given to OpenZip stays the caller's.
func (p *Package) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i]())
	}
	p.closers = nil
	return errors.Join(errs...)
}

// index builds the lookup table and sorts the files.
func (p *Package) finish() {
	sort.Slice(p.files, func(i, j int) bool { return p.files[i].Path < p.files[j].Path })
	p.index = make(map[string]*entry, len(p.files))
	for _, e := range p.files {
		p.index[e.Path] = e
	}
}

// Open implements fs.FS.
func (p *Package) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if e := p.index[name]; e != nil {
		rc, err := e.open()
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &file{e: e, rc: rc}, nil
	}
	if ents, ok := p.readDir(name); ok {
		return &dir{name: name, entries: ents}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// readDir lists the folder name ("." for the top), or reports it absent.
func (p *Package) readDir(name string) ([]fs.DirEntry, bool) {
	prefix := ""
	if name != "." {
		prefix = name + "/"
	}
	i := sort.Search(len(p.files), func(i int) bool { return p.files[i].Path >= prefix })
	var out []fs.DirEntry
	seen := map[string]bool{}
	for ; i < len(p.files) && strings.HasPrefix(p.files[i].Path, prefix); i++ {
		rest := p.files[i].Path[len(prefix):]
		child, _, isDir := strings.Cut(rest, "/")
		if seen[child] {
			continue
		}
		seen[child] = true
		if isDir {
			out = append(out, fs.FileInfoToDirEntry(dirInfo(child)))
		} else {
			out = append(out, fs.FileInfoToDirEntry(fileInfo{p.files[i]}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, name == "." || len(out) > 0
}

// file is an open file of a package. It fails with a Conflict error when
// the content is not the size recorded on opening (the source changed).
type file struct {
	e  *entry
	rc io.ReadCloser
	n  int64
}

func (f *file) Stat() (fs.FileInfo, error) { return fileInfo{f.e}, nil }
func (f *file) Close() error               { return f.rc.Close() }

func (f *file) Read(b []byte) (int, error) {
	if int64(len(b)) > f.e.Size-f.n+1 {
		b = b[:f.e.Size-f.n+1] // read at most one byte past the end
	}
	n, err := f.rc.Read(b)
	f.n += int64(n)
	if f.n > f.e.Size || (err == io.EOF && f.n != f.e.Size) {
		return n, changed(f.e.Path)
	}
	return n, err
}

func changed(name string) error {
	return zoo.E("bundle", zoo.Conflict, nil, "%s changed since the package was opened; open it again", name)
}

type fileInfo struct{ e *entry }

func (i fileInfo) Name() string       { return path.Base(i.e.Path) }
func (i fileInfo) Size() int64        { return i.e.Size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }

type dirInfo string

func (d dirInfo) Name() string       { return path.Base(string(d)) }
func (d dirInfo) Size() int64        { return 0 }
func (d dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (d dirInfo) ModTime() time.Time { return time.Time{} }
func (d dirInfo) IsDir() bool        { return true }
func (d dirInfo) Sys() any           { return nil }

// dir is an open folder of a package.
type dir struct {
	name    string
	entries []fs.DirEntry
	off     int
}

func (d *dir) Stat() (fs.FileInfo, error) { return dirInfo(d.name), nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	d.off += len(rest)
	return rest, nil
}
