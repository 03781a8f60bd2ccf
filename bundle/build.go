package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// BuildOptions control Build.
type BuildOptions struct {
	// Fetch downloads a remote file (http URL) so that it is checked and
	// packaged like a local one. Nil leaves remote references as URLs,
	// checked for syntax only. Build bounds the size (Limits.MaxFileSize);
	// the caller bounds the time and closes what Fetch returns.
	Fetch func(url string) (io.ReadCloser, error)
	// Limits bound the files packaged (and a zip given as the source).
	Limits Limits
	// TempDir is where fetched files wait until the package is closed
	// ("" for os.TempDir()).
	TempDir string
}

// Build makes a package of a description: path is a description yaml, a
// package folder or a package zip (opened with OpenZip). The description
// must be valid with its files checked (spec.Options{Files: true}).
//
// The package holds the description as rdf.yaml and every file it
// references in its top folder under the file's bare name; a name taken by
// a file with other content gets _2, _3, … before its extension (weights_2.onnx;
// names also clash when they differ only in case). The yaml text is edited
// where it names a file, so comments and layout survive, and every missing
// sha256 the format has a place for is filled in. Remote files are packaged
// only with opts.Fetch; otherwise their URLs stay.
//
// Files of a folder or yaml are read through os.DirFS: links are followed
// (they are the contributor's own files) and the zip holds their contents.
// A zip given as path is opened with OpenZip's checks and limits.
//
// The result is the validation of the description as given. For an invalid
// description Build returns it with a zoo.Invalid error; print its report.
// The result is nil only when the description could not be read. Close the
// package when done with it (it may hold the source zip and fetched files).
func Build(path string, opts BuildOptions) (*Package, *spec.Result, error) {
	const op = "bundle.Build"
	b := &builder{lim: opts.Limits.orDefault(), taken: map[string]*entry{}, byKey: map[string]*entry{}}
	pkg, res, err := b.build(path, opts)
	if err != nil {
		b.close()
		var ze *zoo.Error
		if !errors.As(err, &ze) {
			err = zoo.E(op, zoo.Internal, err, "cannot package %s", path)
		}
		return nil, res, err
	}
	pkg.closers = b.closers
	return pkg, res, nil
}

// builder holds the state of one Build.
type builder struct {
	lim     Limits
	fsys    fs.FS // where relative references resolve
	fetch   *fetchCache
	closers []func() error
	files   []*entry
	taken   map[string]*entry // folded name → file (nil: reserved)
	byKey   map[string]*entry // normalised source → file
	total   int64
}

func (b *builder) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

func (b *builder) build(src string, opts BuildOptions) (*Package, *spec.Result, error) {
	const op = "bundle.Build"
	yml, err := b.open(src)
	if err != nil {
		return nil, nil, err
	}
	vopts := spec.Options{Files: true, FS: b.fsys}
	if opts.Fetch != nil {
		b.fetch = &fetchCache{fetch: opts.Fetch, base: opts.TempDir, max: b.lim.MaxFileSize, got: map[string]string{}}
		b.closers = append(b.closers, b.fetch.close)
		vopts.Fetch = b.fetch.open
	}
	res := spec.Validate(yml, src, vopts)
	if !res.Report.OK() {
		return nil, res, zoo.E(op, zoo.Invalid, nil, "%s is not a valid description (%d errors); fix it and package again", src, len(res.Report.Errors))
	}
	b.taken[fold(DescriptionName)] = nil
	var edits []textEdit
	for _, r := range spec.References(res) {
		e, err := b.add(r.Source)
		if err != nil {
			return nil, res, err
		}
		if e == nil {
			continue // a URL, kept
		}
		ed := textEdit{line: r.Line, col: r.Column, old: r.Value, text: renamed(r.Loc, r.Value, r.Source, e.Path)}
		need := ed.text != r.Value
		if r.Hashed && r.SHA256 == "" {
			switch {
			case r.HashLine > 0: // "sha256: null"
				edits = append(edits, textEdit{line: r.HashLine, col: r.HashColumn, text: e.SHA256, isNull: true})
			case r.KeyColumn > 0: // a block mapping: a line after the source's
				need = true // checks that the source is a one-line value
				edits = append(edits, textEdit{line: r.Line, insert: true, text: strings.Repeat(" ", r.KeyColumn-1) + "sha256: " + e.SHA256})
			default: // a flow mapping: {source: x, sha256: …}
				need = true
				ed.after = ", sha256: " + e.SHA256
			}
		}
		if need {
			if r.Line == 0 {
				return nil, res, zoo.E(op, zoo.NotSupported, nil, "cannot rewrite %s (%s): the value has no place in the text; name the file %s in the description", r.Source, r.Loc, e.Path)
			}
			edits = append(edits, ed)
		}
	}
	out, err := applyEdits(yml, edits)
	if err != nil {
		return nil, res, zoo.E(op, zoo.NotSupported, err, "cannot rewrite the file references of %s; write each file reference as a one-line value", src)
	}
	pkg := &Package{desc: DescriptionName, files: b.files}
	d := &entry{File: zoo.File{Path: DescriptionName}, open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(out)), nil }}
	if err := digest(d, d.open, int64(len(out)), nil); err != nil {
		return nil, res, err
	}
	pkg.descData = out
	pkg.files = append(pkg.files, d)
	pkg.finish()
	if err := checkPackaged(out, src, pkg); err != nil {
		return nil, res, zoo.E(op, zoo.Internal, err, "the packaged description is wrong (a bug in zoo; please report it)")
	}
	return pkg, res, nil
}

// checkPackaged checks what rewriting could break: the packaged description
// is valid and names exactly the packaged files, each with its sha256. The
// contents are those the first validation checked, so they are not read
// again.
func checkPackaged(text []byte, src string, pkg *Package) error {
	res := spec.Validate(text, src, spec.Options{})
	if !res.Report.OK() {
		e := res.Report.Errors[0]
		return fmt.Errorf("line %d: %s: %s", e.Line, e.Loc, e.Msg)
	}
	for _, r := range spec.References(res) {
		e := pkg.index[r.Source]
		switch {
		case e == nil && isURL(r.Source):
			continue
		case e == nil:
			return fmt.Errorf("%s names %s, which is not in the package", r.Loc, r.Source)
		case r.Hashed && r.SHA256 != e.SHA256:
			return fmt.Errorf("%s: %s has sha256 %s, the description says %q", r.Loc, r.Source, e.SHA256, r.SHA256)
		}
	}
	return nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// open reads the description at src and sets where its files are.
func (b *builder) open(src string) ([]byte, error) {
	const op = "bundle.Build"
	st, err := os.Stat(src)
	if err != nil {
		kind := zoo.Invalid
		if errors.Is(err, fs.ErrNotExist) {
			kind = zoo.NotFound
		}
		return nil, zoo.E(op, kind, err, "cannot open %s", src)
	}
	switch {
	case st.IsDir():
		ents, err := os.ReadDir(src)
		if err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "cannot read the folder %s", src)
		}
		var names []string
		for _, e := range ents {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
		name := spec.FindDescription(names)
		if name == "" {
			return nil, zoo.E(op, zoo.Invalid, nil, "%s has no description: expected one of %s in the folder", src, strings.Join(spec.DescriptionNames, ", "))
		}
		b.fsys = os.DirFS(src)
		return readDescription(filepath.Join(src, name))
	case isZip(src):
		f, err := os.Open(src)
		if err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "cannot open %s", src)
		}
		b.closers = append(b.closers, f.Close)
		zp, err := OpenZip(f, st.Size(), b.lim)
		if err != nil {
			return nil, err
		}
		b.fsys = zp
		_, data := zp.Description()
		return data, nil
	}
	b.fsys = os.DirFS(filepath.Dir(src))
	return readDescription(src)
}

// readDescription reads a description, one byte past the parser's limit so
// that validation reports the size.
func readDescription(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, zoo.E("bundle.Build", zoo.Invalid, err, "cannot read the description")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(spec.DefaultLimits.MaxBytes)+1))
	if err != nil {
		return nil, zoo.E("bundle.Build", zoo.Invalid, err, "cannot read the description %s", name)
	}
	return data, nil
}

// isZip reports whether the file starts like a zip.
func isZip(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	return string(magic[:]) == "PK\x03\x04" || string(magic[:]) == "PK\x05\x06"
}

// add plans the file source names and returns its entry, or nil for a URL
// that stays a URL. Each distinct source is read once, within the limits.
func (b *builder) add(source string) (*entry, error) {
	const op = "bundle.Build"
	remote := isURL(source)
	if remote && b.fetch == nil {
		return nil, nil
	}
	key := source
	if !remote {
		key = strings.TrimPrefix(filepath.ToSlash(source), "./")
	}
	if e, ok := b.byKey[key]; ok {
		return e, nil
	}
	if len(b.files)+1 >= b.lim.MaxFiles { // +1: the description
		return nil, zoo.E(op, zoo.TooLarge, nil, "the description references more than %d files (the limit)", b.lim.MaxFiles-1)
	}
	e := &entry{}
	base := key
	if remote {
		e.open = func() (io.ReadCloser, error) { return b.fetch.open(source) }
		if u, err := url.Parse(source); err == nil {
			base = strings.TrimSuffix(u.Path, "/content") // zenodo's …/files/NAME/content
		}
	} else {
		fsys := b.fsys
		e.open = func() (io.ReadCloser, error) { return fsys.Open(key) }
	}
	max := min(b.lim.MaxFileSize, b.lim.MaxTotalSize-b.total)
	if err := digest(e, e.open, max, nil); err != nil {
		var ze *zoo.Error
		switch {
		case errors.Is(err, errLong):
			return nil, zoo.E(op, zoo.TooLarge, nil, "%s is larger than the limits allow (%d bytes per file, %d in all)", source, b.lim.MaxFileSize, b.lim.MaxTotalSize)
		case errors.As(err, &ze):
			return nil, err
		}
		return nil, zoo.E(op, zoo.Invalid, err, "cannot read %s", source)
	}
	b.total += e.Size
	name := bareName(base)
	for n := 2; ; n++ {
		other, ok := b.taken[fold(name)]
		if !ok {
			e.Path = name
			b.taken[fold(name)] = e
			b.files = append(b.files, e)
			break
		}
		if other != nil && other.SHA256 == e.SHA256 {
			b.total -= e.Size
			e = other // the same content under the same name: one file
			break
		}
		name = numbered(bareName(base), n)
	}
	b.byKey[key] = e
	return e, nil
}

// renamed returns the value at loc with the file source replaced by name.
// Format 0.4 embeds sources: dependencies "conda:env.yaml" (after the
// manager) and architecture "unet.py:UNet" (before the callable).
func renamed(loc, value, source, name string) string {
	switch {
	case value == source:
		return name
	case strings.HasSuffix(loc, "dependencies") && strings.HasSuffix(value, ":"+source):
		return value[:len(value)-len(source)] + name
	case strings.HasPrefix(value, source+":"):
		return name + value[len(source):]
	}
	return strings.Replace(value, source, name, 1)
}
