//go:build unix

// Package tmpown gives each process its own folder inside a temporary
// folder that several processes share (a data folder's tmp/, a blob
// store's tmp/), and removes the folders of processes that have ended —
// what a crash or a kill leaves behind: upload spools, unpacked test
// packages, blob writes in progress.
//
// A process's folder is PREFIX<random> holding a lock file, ".owner",
// that the process keeps locked (flock, exclusive) for as long as it uses
// the folder. The lock file is locked under a temporary name first and
// renamed into place, so a folder with an ".owner" is always locked while
// its process lives; the kernel releases the lock when the process ends,
// however it ends. Sweep removes every folder whose ".owner" it can lock,
// and folders without one that are older than a minute (a process that
// died between making its folder and locking it). Locks are per host:
// share such a folder between hosts only through one host's processes.
package tmpown

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// owner is the lock file's name.
const owner = ".owner"

// Dir is a claimed folder.
type Dir struct {
	Path string
	lock *os.File
}

// Claim makes and locks a new folder PREFIX<random> in parent (created if
// needed). Release it when done; if the process ends first, the next
// Sweep removes it.
func Claim(parent, prefix string) (*Dir, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".owner-")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, owner)); err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &Dir{Path: dir, lock: f}, nil
}

// Release removes the folder and everything in it, and drops the lock.
func (d *Dir) Release() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	d.lock = nil
	return err
}

// Sweep removes the folders PREFIX* in parent whose process has ended
// and returns how many it removed. The caller's own folders stay: it
// holds their locks.
func Sweep(parent, prefix string) (int, error) {
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if dead(dir) {
			if err := os.RemoveAll(dir); err == nil {
				n++
			}
		}
	}
	return n, nil
}

// dead reports whether dir's process has ended.
func dead(dir string) bool {
	f, err := os.Open(filepath.Join(dir, owner))
	if errors.Is(err, fs.ErrNotExist) {
		fi, err := os.Stat(dir)
		return err == nil && time.Since(fi.ModTime()) > time.Minute
	} else if err != nil {
		return false
	}
	defer f.Close()
	// Our own folders: flock on a second open file description of a file
	// this process has locked fails too, so they are never dead.
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
