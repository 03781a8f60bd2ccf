//go:build !unix

package tmpown

import "os"

// Dir is a claimed folder. Without flock (not unix) folders are not
// locked: Sweep removes nothing, and a crash's leftovers stay until an
// operator removes them (zoo gc removes spool files older than an hour).
type Dir struct{ Path string }

// Claim makes a new folder PREFIX<random> in parent.
func Claim(parent, prefix string) (*Dir, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, err
	}
	return &Dir{Path: dir}, nil
}

// Release removes the folder.
func (d *Dir) Release() error {
	if d == nil || d.Path == "" {
		return nil
	}
	err := os.RemoveAll(d.Path)
	d.Path = ""
	return err
}

// Sweep removes nothing where processes cannot be told apart.
func Sweep(parent, prefix string) (int, error) { return 0, nil }
