package collection

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

func bigFake(n int) *fake {
	f := fixture()
	base := f.descs["shy-owl/2"]
	f.models, f.versions, f.descs = nil, nil, map[string]*spec.Model{}
	tmpl := fixture().versions[1]
	for i := range n {
		id := fmt.Sprintf("m-%06d", i)
		f.models = append(f.models, &zoo.Model{ID: id, Type: "model", Downloads: int64(i % 97)})
		v := *tmpl
		v.ModelID = id
		f.versions = append(f.versions, &v)
		f.descs[id+"/2"] = base
	}
	return f
}

// collection.json over 10,000 published models with warm per-version
// caches: the per-request cost (list, summaries, compatibility, JSON).
func BenchmarkCollection10k(b *testing.B) {
	h := New(bigFake(10_000), Options{Base: "https://zoo.example.org"})
	h.Collection(context.Background(), "https://zoo.example.org") // warm the cache
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeCollection(rec, httptest.NewRequest("GET", "/collection.json", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
		b.SetBytes(int64(rec.Body.Len()))
	}
}

func BenchmarkIndex10k(b *testing.B) {
	h := New(bigFake(10_000), Options{Base: "https://zoo.example.org"})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeIndex(rec, httptest.NewRequest("GET", "/index.json", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
