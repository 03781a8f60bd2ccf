// Package cachetest gives tests of inference features a repository
// service on the embedded backends (SQLite + disk blobs) with fixture
// packages published in it.
package cachetest

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// Env is a repository service with a contributor and a reviewer.
type Env struct {
	Svc         *repo.Service
	Contributor *zoo.User
	Reviewer    *zoo.User
}

type noQueue struct{}

func (noQueue) Enqueue(context.Context, string, any) (int64, error) { return 1, nil }

func passed(context.Context, string, string) (*repo.TestResult, error) {
	return &repo.TestResult{Status: zoo.TestPassed, Report: json.RawMessage(`{}`)}, nil
}

// New returns an empty service whose test jobs pass (they are run by
// Publish, not by a queue).
func New(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Svc: repo.New(db, blobs, noQueue{}, repo.Config{TempDir: t.TempDir(), Tester: passed})}
	if e.Contributor, err = db.CreateUser(ctx, "alice", zoo.RoleContributor); err != nil {
		t.Fatal(err)
	}
	if e.Reviewer, err = db.CreateUser(ctx, "rita", zoo.RoleReviewer); err != nil {
		t.Fatal(err)
	}
	return e
}

// Upload uploads the fixture package name (under fixtures' packages/);
// draft keeps it a draft.
func (e *Env) Upload(t testing.TB, name string, draft bool) *zoo.Version {
	t.Helper()
	return e.UploadPath(t, fixtures.Path(t, "packages", name), draft)
}

// UploadPath uploads the package at path (folder, zip or yaml).
func (e *Env) UploadPath(t testing.TB, path string, draft bool) *zoo.Version {
	t.Helper()
	pkg, _, err := bundle.Build(path, bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	v, err := e.Svc.Upload(context.Background(), e.Contributor, &buf, repo.UploadOptions{Draft: draft})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Publish uploads the fixture package name, records a passed test and
// accepts it; it returns the published version.
func (e *Env) Publish(t testing.TB, name string) *zoo.Version {
	t.Helper()
	return e.PublishPath(t, fixtures.Path(t, "packages", name))
}

// PublishPath is Publish for the package at path.
func (e *Env) PublishPath(t testing.TB, path string) *zoo.Version {
	t.Helper()
	ctx := context.Background()
	v := e.UploadPath(t, path, false)
	if err := e.Svc.RunTest(ctx, repo.TestArgs{ID: v.ModelID, Version: v.Number}); err != nil {
		t.Fatal(err)
	}
	v, err := e.Svc.Review(ctx, e.Reviewer, v.ModelID, v.Number, repo.Accept, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, err = e.Svc.Get(ctx, nil, v.ModelID, v.Number); err != nil {
		t.Fatal(err)
	}
	return v
}
