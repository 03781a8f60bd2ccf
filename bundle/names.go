package bundle

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkName returns "" if name is a safe path of a file inside a package —
// relative, '/'-separated, no "." or ".." elements, nothing a file system
// would read as a drive, a stream or a control sequence — or else what is
// wrong with it, as a phrase to follow the name in a message.
func checkName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("is longer than %d bytes", maxNameLen)
	case !utf8.ValidString(name):
		return "is not valid UTF-8 (re-create the zip with a tool that writes UTF-8 names)"
	case strings.ContainsRune(name, '\\'):
		return `contains a backslash; paths in a package use "/"`
	case strings.HasPrefix(name, "/"):
		return "is an absolute path; paths in a package are relative to its top folder"
	case len(name) >= 2 && name[1] == ':' && name[0] < utf8.RuneSelf && unicode.IsLetter(rune(name[0])):
		return "starts with a drive letter; paths in a package are relative to its top folder"
	case strings.ContainsRune(name, ':'):
		return `contains ":", which Windows reads as a drive or a data stream`
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	for _, el := range strings.Split(name, "/") {
		switch {
		case el == "":
			return `has an empty path element ("//" or a trailing "/")`
		case el == "." || el == "..":
			return fmt.Sprintf("has a %q element; paths in a package may not climb or repeat folders", el)
		case len(el) > maxElementLen:
			return fmt.Sprintf("has an element longer than %d bytes", maxElementLen)
		}
	}
	return ""
}

// fold maps names that case-insensitive file systems (macOS, Windows)
// treat as the same to the same key. Simple case folding catches what
// matters in practice; Unicode normalisation (macOS NFD) is not applied.
func fold(name string) string { return strings.ToLower(strings.ToUpper(name)) }

// nameSet detects names that would clash when a package is unpacked: exact
// and case-insensitive duplicates, and a file where another entry needs a
// folder ("a" and "a/b").
type nameSet struct {
	files map[string]string // folded → name of a file
	dirs  map[string]string // folded → name of a folder (explicit or implied)
}

func newNameSet() *nameSet {
	return &nameSet{files: map[string]string{}, dirs: map[string]string{}}
}

// add records a file (or, with dir, a folder) and returns "" or the clash
// as a sentence.
func (s *nameSet) add(name string, dir bool) string {
	f := fold(name)
	if dir {
		if other, ok := s.files[f]; ok {
			return fmt.Sprintf("%q is both a file and a folder (%q)", other, name)
		}
		s.dirs[f] = name
	} else {
		if other, ok := s.files[f]; ok {
			if other == name {
				return fmt.Sprintf("%q appears twice", name)
			}
			return fmt.Sprintf("%q and %q differ only in case; they clash on macOS and Windows", other, name)
		}
		if other, ok := s.dirs[f]; ok {
			return fmt.Sprintf("%q is both a file and a folder (%q)", name, other)
		}
		s.files[f] = name
	}
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		fd := fold(d)
		if other, ok := s.files[fd]; ok {
			return fmt.Sprintf("%q is both a file and a folder (of %q)", other, name)
		}
		if _, ok := s.dirs[fd]; ok {
			break // its parents were recorded with it
		}
		s.dirs[fd] = d
	}
	return ""
}

// bareName turns the last element of a path or URL path into a safe file
// name for the top folder of a package.
func bareName(p string) string {
	p = strings.TrimRight(strings.ReplaceAll(p, `\`, "/"), "/")
	name := path.Base(p)
	name = strings.Map(func(r rune) rune {
		if r == ':' || r == '/' || unicode.IsControl(r) || r == utf8.RuneError {
			return '_'
		}
		return r
	}, name)
	if len(name) > maxElementLen {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		stem := name[:maxElementLen-len(ext)]
		for !utf8.ValidString(stem) { // do not cut a character in half
			stem = stem[:len(stem)-1]
		}
		name = stem + ext
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// numbered returns name with "_n" before its extension: weights_2.onnx.
func numbered(name string, n int) string {
	ext := path.Ext(name)
	if ext == name { // ".hidden"
		ext = ""
	}
	return fmt.Sprintf("%s_%d%s", strings.TrimSuffix(name, ext), n, ext)
}
