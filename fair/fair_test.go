package fair

import (
	"os"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
)

// nuclei is the record of the real nuclei model's description, published.
func nuclei(t testing.TB) Record {
	t.Helper()
	p := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "bioimageio.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Decode(data, "bioimageio.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pub := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	v := &zoo.Version{
		ModelID: "affable-shark", Number: 2, State: zoo.StatePublished, Name: m.Name,
		Files:         []zoo.File{{Path: "bioimageio.yaml", Size: 100}, {Path: "weights.onnx", Size: 12345}},
		PackageSHA256: "ab", PackageSize: 54321,
		CreatedAt: pub.Add(-time.Hour), PublishedAt: &pub,
	}
	return Record{Version: v, Desc: m, Base: "https://zoo.example.org"}
}

func TestPrint(t *testing.T) {
	r := nuclei(t)
	r.DOI = "10.5072/zoo.affable-shark.2"
	for _, f := range []func(Record) ([]byte, error){JSONLD, DataCiteXML, DataCiteJSON} {
		b, err := f(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(string(b))
	}
	t.Log(BibTeX(r))
	t.Log(CFF(r))
	t.Log(RIS(r))
	t.Log(Signposting(r))
}
