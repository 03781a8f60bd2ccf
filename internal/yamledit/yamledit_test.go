package yamledit

import (
	"strings"
	"testing"
)

func TestEdit(t *testing.T) {
	m, err := Parse([]byte("# kept\nname: a\nversion: 1\nweights:\n  onnx: {source: w.onnx}\n"))
	if err != nil {
		t.Fatal(err)
	}
	Set(m, "name", Str("b"))
	Set(Get(m, "weights"), "torchscript", Map("source", "w.pt", "opset_version", 17))
	Delete(m, "version")
	Set(m, "pytorch_version", Str("1.13"))
	Set(m, "flag", Str("true"))
	out, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"name: b\n", "torchscript:\n", "source: w.pt", "opset_version: 17", `pytorch_version: "1.13"`, `flag: "true"`, "# kept"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\nversion:") {
		t.Errorf("version was not deleted:\n%s", got)
	}
	if _, err := Parse([]byte("- a\n")); err == nil {
		t.Error("a list parsed as a mapping")
	}
}
