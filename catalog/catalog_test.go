package catalog

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zoo-bioimage/zoo"
)

func TestMigrations(t *testing.T) {
	ok := fstest.MapFS{
		"0002_more.sql": {Data: []byte("two")},
		"0001_init.sql": {Data: []byte("one")},
		"README.md":     {Data: []byte("not a migration")},
	}
	ms, err := Migrations(ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].SQL != "one" || ms[1].Name != "0002_more.sql" {
		t.Fatalf("Migrations = %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"0001_a.sql": {}, "0003_c.sql": {}},
		"repeat":    {"0001_a.sql": {}, "0001_b.sql": {}},
		"no number": {"init.sql": {}},
		"zero":      {"0000_a.sql": {}},
	} {
		if _, err := Migrations(fsys); err == nil {
			t.Errorf("%s: Migrations accepted %v", name, fsys)
		}
	}

	pending, err := Pending(ms, map[int]bool{1: true})
	if err != nil || len(pending) != 1 || pending[0].Version != 2 {
		t.Errorf("Pending = %+v, %v", pending, err)
	}
	if _, err := Pending(ms, map[int]bool{1: true, 2: true, 3: true}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Pending with a newer database = %v", err)
	}
}

func TestPrepareVersion(t *testing.T) {
	v := &zoo.Version{ModelID: "m", Files: []zoo.File{{Path: "b"}, {Path: "a"}}, Downloads: 7}
	if err := PrepareVersion("op", v); err != nil {
		t.Fatal(err)
	}
	if v.State != zoo.StateDraft || v.TestStatus != zoo.TestPending || v.Files[0].Path != "a" || v.Downloads != 0 ||
		v.CreatedAt.IsZero() || v.CreatedAt.Location() != time.UTC || v.CreatedAt.Nanosecond()%1000 != 0 || v.PublishedAt != nil {
		t.Errorf("PrepareVersion = %+v", v)
	}
	p := &zoo.Version{ModelID: "m", State: zoo.StatePublished}
	if err := PrepareVersion("op", p); err != nil {
		t.Fatal(err)
	}
	if p.PublishedAt == nil || !p.PublishedAt.Equal(p.CreatedAt) || p.Files == nil {
		t.Errorf("a version created published = %+v", p)
	}
	for _, bad := range []*zoo.Version{
		{},
		{ModelID: "m", State: "gone"},
		{ModelID: "m", TestStatus: "green"},
		{ModelID: "m", TestReport: []byte("{")},
		{ModelID: "m", Files: []zoo.File{{Path: "a"}, {Path: "a"}}},
		{ModelID: "m", Files: []zoo.File{{Path: ""}}},
	} {
		if err := PrepareVersion("op", bad); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("PrepareVersion(%+v) = %v, want Invalid", bad, err)
		}
	}
}

func TestPrepareModelAndChecks(t *testing.T) {
	m := &zoo.Model{ID: "x-y", Maintainers: []int64{3, 1, 3, 2}}
	if err := PrepareModel("op", m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "model" || !slices.Equal(m.Maintainers, []int64{1, 2, 3}) {
		t.Errorf("PrepareModel = %+v", m)
	}
	for _, id := range []string{"", "a b", "a/b"} {
		if err := PrepareModel("op", &zoo.Model{ID: id}); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("PrepareModel(%q) = %v", id, err)
		}
	}
	if CheckTokenHash("op", strings.Repeat("a", 64)) != nil || CheckTokenHash("op", strings.Repeat("A", 64)) == nil || CheckTokenHash("op", "ab") == nil {
		t.Error("CheckTokenHash")
	}
	e := zoo.AuditEntry{}
	if err := PrepareTransition("op", "m", 2, []zoo.State{zoo.StateDraft}, zoo.StateSubmitted, &e); err != nil {
		t.Fatal(err)
	}
	if e.Action != "submitted" || e.ModelID != "m" || e.Version != 2 || e.At.IsZero() {
		t.Errorf("PrepareTransition = %+v", e)
	}
}
