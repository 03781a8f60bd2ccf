package doitest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/doi"
)

// Backend is a doi.Store on a catalog (the same database).
type Backend interface {
	doi.Store
	zoo.Catalog
}

// RunStore is the conformance suite of doi.Store; open returns a fresh,
// empty backend for each subtest.
func RunStore(t *testing.T, open func(t *testing.T) Backend) {
	ctx := context.Background()
	t.Run("SetAndGet", func(t *testing.T) {
		b := open(t)
		m := versions(t, b, "affable-shark", 2)
		if _, err := b.VersionDOI(ctx, m, 1); zoo.KindOf(err) != zoo.NotFound {
			t.Fatalf("VersionDOI before any: %v, want NotFound", err)
		}
		if err := b.SetVersionDOI(ctx, m, 1, "10.5072/zoo.affable-shark.1"); err != nil {
			t.Fatal(err)
		}
		got, err := b.VersionDOI(ctx, m, 1)
		if err != nil || got != "10.5072/zoo.affable-shark.1" {
			t.Fatalf("VersionDOI = %q, %v", got, err)
		}
		if _, err := b.VersionDOI(ctx, m, 2); zoo.KindOf(err) != zoo.NotFound {
			t.Fatalf("version 2 has a DOI: %v", err)
		}
		all, err := b.ModelDOIs(ctx, m)
		if err != nil || len(all) != 1 || all[1] != "10.5072/zoo.affable-shark.1" {
			t.Fatalf("ModelDOIs = %v, %v", all, err)
		}
		none, err := b.ModelDOIs(ctx, "no-such-model")
		if err != nil || len(none) != 0 {
			t.Fatalf("ModelDOIs of an unknown model = %v, %v; want empty", none, err)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		b := open(t)
		m := versions(t, b, "brave-otter", 1)
		for range 3 {
			if err := b.SetVersionDOI(ctx, m, 1, "10.5072/zoo.brave-otter.1"); err != nil {
				t.Fatal(err)
			}
		}
		// DOIs are case-insensitive: the same DOI in other case is the same.
		if err := b.SetVersionDOI(ctx, m, 1, "10.5072/ZOO.BRAVE-OTTER.1"); err != nil {
			t.Fatalf("same DOI in upper case: %v", err)
		}
		if got, _ := b.VersionDOI(ctx, m, 1); got != "10.5072/zoo.brave-otter.1" {
			t.Fatalf("the first recorded DOI must stay: %q", got)
		}
	})
	t.Run("Conflicts", func(t *testing.T) {
		b := open(t)
		m := versions(t, b, "calm-lynx", 2)
		if err := b.SetVersionDOI(ctx, m, 1, "10.5072/a"); err != nil {
			t.Fatal(err)
		}
		if err := b.SetVersionDOI(ctx, m, 1, "10.5072/b"); zoo.KindOf(err) != zoo.Conflict {
			t.Fatalf("a second DOI for a version: %v, want Conflict", err)
		}
		if err := b.SetVersionDOI(ctx, m, 2, "10.5072/A"); zoo.KindOf(err) != zoo.Conflict {
			t.Fatalf("one DOI for two versions: %v, want Conflict", err)
		}
		if got, _ := b.VersionDOI(ctx, m, 1); got != "10.5072/a" {
			t.Fatalf("a refused write changed the DOI: %q", got)
		}
	})
	t.Run("UnknownVersion", func(t *testing.T) {
		b := open(t)
		m := versions(t, b, "deft-heron", 1)
		if err := b.SetVersionDOI(ctx, m, 7, "10.5072/x"); zoo.KindOf(err) != zoo.NotFound {
			t.Fatalf("DOI for a version that does not exist: %v, want NotFound", err)
		}
		if err := b.SetVersionDOI(ctx, "no-such-model", 1, "10.5072/y"); zoo.KindOf(err) != zoo.NotFound {
			t.Fatalf("DOI for a model that does not exist: %v, want NotFound", err)
		}
	})
	t.Run("ConcurrentSame", func(t *testing.T) {
		// Two workers recording the same mint at once both succeed.
		b := open(t)
		m := versions(t, b, "eager-finch", 1)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = b.SetVersionDOI(ctx, m, 1, "10.5072/zoo.eager-finch.1")
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent identical SetVersionDOI: %v", err)
			}
		}
	})
}

// versions creates a model with n versions and returns its id.
func versions(t *testing.T, c zoo.Catalog, id string, n int) string {
	t.Helper()
	ctx := context.Background()
	u, err := c.CreateUser(ctx, "doi-"+id, zoo.RoleContributor)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		h := func(s string) string {
			x := sha256.Sum256([]byte(fmt.Sprint(id, i, s)))
			return hex.EncodeToString(x[:])
		}
		v := &zoo.Version{
			ModelID: id, UploaderID: u.ID, State: zoo.StatePublished, TestStatus: zoo.TestPending,
			Name: "m", FormatVersion: "0.5.4", DescriptionFile: "rdf.yaml",
			Files:         []zoo.File{{Path: "rdf.yaml", SHA256: h("rdf"), Size: 1}},
			PackageSHA256: h("zip"), PackageSize: 1,
		}
		var m *zoo.Model
		if i == 0 {
			m = &zoo.Model{ID: id, Type: "model", OwnerID: u.ID}
		}
		if err := c.CreateVersion(ctx, m, v, zoo.AuditEntry{ActorID: u.ID, Action: "upload"}); err != nil {
			t.Fatal(err)
		}
	}
	return id
}
