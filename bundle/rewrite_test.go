package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

func TestApplyEdits(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		edits          []textEdit
	}{
		{"plain", "a: x/w.onnx\n", "a: w.onnx\n", []textEdit{{line: 1, col: 4, old: "x/w.onnx", text: "w.onnx"}}},
		{"comment kept", "a: x/w.onnx  # w\n", "a: w.onnx  # w\n", []textEdit{{line: 1, col: 4, old: "x/w.onnx", text: "w.onnx"}}},
		{"single quotes", "a: 'x/it''s.onnx'\n", "a: \"it's.onnx\"\n", []textEdit{{line: 1, col: 4, old: "x/it's.onnx", text: "it's.onnx"}}},
		{"double quotes", `a: "x/\u0077.onnx"` + "\n", "a: \"w.onnx\"\n", []textEdit{{line: 1, col: 4, old: "x/w.onnx", text: "w.onnx"}}},
		{"0.4 dependencies", "d: conda:x/env.yaml\n", "d: conda:env.yaml\n", []textEdit{{line: 1, col: 4, old: "conda:x/env.yaml", text: "conda:env.yaml"}}},
		{"needs quotes", "a: x/1.5\n", "a: \"1.5\"\n", []textEdit{{line: 1, col: 4, old: "x/1.5", text: "1.5"}}},
		{"needs quotes: spaces", "a: x/my file.npy\n", "a: \"my file.npy\"\n", []textEdit{{line: 1, col: 4, old: "x/my file.npy", text: "my file.npy"}}},
		{"non-ASCII before", "nämé: x/w.onnx\n", "nämé: w.onnx\n", []textEdit{{line: 1, col: 7, old: "x/w.onnx", text: "w.onnx"}}},
		{"byte order mark", "\ufeffa: x/w.onnx\n", "\ufeffa: w.onnx\n", []textEdit{{line: 1, col: 4, old: "x/w.onnx", text: "w.onnx"}}},
		{"flow sequence", "t: [d/a.npy, d/b.npy]\n", "t: [a.npy, b.npy]\n", []textEdit{
			{line: 1, col: 5, old: "d/a.npy", text: "a.npy"}, {line: 1, col: 14, old: "d/b.npy", text: "b.npy"}}},
		{"insert after", "m:\n  - source: w.onnx\n    x: 1\n", "m:\n  - source: w.onnx\n    sha256: abc\n    x: 1\n", []textEdit{
			{line: 2, col: 13, old: "w.onnx", text: "w.onnx"}, {line: 2, insert: true, text: "    sha256: abc"}}},
		{"insert at the end without newline", "source: w.onnx", "source: w.onnx\nsha256: abc\n", []textEdit{{line: 1, insert: true, text: "sha256: abc"}}},
		{"null", "sha256: null\n", "sha256: abc\n", []textEdit{{line: 1, col: 9, text: "abc", isNull: true}}},
		{"tilde", "sha256: ~ # x\n", "sha256: abc # x\n", []textEdit{{line: 1, col: 9, text: "abc", isNull: true}}},
		{"empty", "sha256:\nx: 1\n", "sha256: abc\nx: 1\n", []textEdit{{line: 1, col: 8, text: "abc", isNull: true}}},
		{"flow mapping", "w: {source: x/w.onnx}\n", "w: {source: w.onnx, sha256: abc}\n", []textEdit{{line: 1, col: 13, old: "x/w.onnx", text: "w.onnx", after: ", sha256: abc"}}},
		{"anchor used twice", "a: &f x/w.onnx\n", "a: &f w.onnx\n", []textEdit{
			{line: 1, col: 7, old: "x/w.onnx", text: "w.onnx"}, {line: 1, col: 7, old: "x/w.onnx", text: "w.onnx"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := applyEdits([]byte(c.in), c.edits)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestApplyEditsRefuses(t *testing.T) {
	for _, c := range []struct {
		name, in string
		e        textEdit
	}{
		{"value elsewhere", "a: y.onnx\n", textEdit{line: 1, col: 4, old: "x.onnx", text: "w.onnx"}},
		{"prefix only", "a: x.onnx.bak\n", textEdit{line: 1, col: 4, old: "x.onnx", text: "w.onnx"}},
		{"multi-line plain", "a: x/w\n  .onnx\n", textEdit{line: 1, col: 4, old: "x/w .onnx", text: "w.onnx"}},
		{"block scalar", "a: |\n  x/w.onnx\n", textEdit{line: 1, col: 4, old: "x/w.onnx\n", text: "w.onnx"}},
		{"multi-line quoted", "a: \"x/w\n  .onnx\"\n", textEdit{line: 1, col: 4, old: "x/w .onnx", text: "w.onnx"}},
		{"null that is not", "sha256: abc\n", textEdit{line: 1, col: 9, text: "def", isNull: true}},
		{"flow edit outside a flow mapping", "source: w.onnx\n", textEdit{line: 1, col: 9, old: "w.onnx", text: "w.onnx", after: ", sha256: abc"}},
		{"line past the end", "a: b\n", textEdit{line: 7, col: 1, old: "b", text: "c"}},
		{"column past the end", "a: b\n", textEdit{line: 1, col: 70, old: "b", text: "c"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := applyEdits([]byte(c.in), []textEdit{c.e}); err == nil {
				t.Errorf("edited to %q, want a refusal", got)
			}
		})
	}
	_, err := applyEdits([]byte("a: &f x\n"), []textEdit{{line: 1, col: 7, old: "x", text: "y"}, {line: 1, col: 7, old: "x", text: "z"}})
	if err == nil {
		t.Error("one value renamed two ways was accepted")
	}
}

func TestRenamed(t *testing.T) {
	for _, c := range [][5]string{
		{"weights.onnx.source", "w/a.onnx", "w/a.onnx", "a.onnx", "a.onnx"},
		{"weights.pytorch_state_dict.dependencies", "conda:env/environment.yaml", "env/environment.yaml", "environment.yaml", "conda:environment.yaml"},
		{"weights.pytorch_state_dict.architecture", "src/unet.py:UNet2d", "src/unet.py", "unet.py", "unet.py:UNet2d"},
		{"weights.pytorch_state_dict.dependencies", "conda:conda", "conda", "conda_2", "conda:conda_2"},
		{"weights.pytorch_state_dict.architecture", "unet:unet", "unet", "unet_2", "unet_2:unet"},
	} {
		if got := renamed(c[0], c[1], c[2], c[3]); got != c[4] {
			t.Errorf("renamed(%q, %q, %q, %q) = %q, want %q", c[0], c[1], c[2], c[3], got, c[4])
		}
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"rdf.yaml", "a/b/c.npy", "weights 2.onnx", "ÄÖÜ.md", ".hidden", "a..b"} {
		if why := checkName(ok); why != "" {
			t.Errorf("%q refused: %s", ok, why)
		}
	}
	for in, want := range map[string]string{
		"w/weights.onnx": "weights.onnx", `C:\models\w.pt`: "w.pt", "a:b.npy": "a_b.npy", "": "file", "..": "file",
		"x/": "x", "bad\x00name": "bad_name", strings.Repeat("é", 200) + ".onnx": strings.Repeat("é", 125) + ".onnx",
	} {
		got := bareName(in)
		if got != want {
			t.Errorf("bareName(%q) = %q, want %q", in, got, want)
		}
		if why := checkName(got); why != "" {
			t.Errorf("bareName(%q) = %q, which %s", in, got, why)
		}
	}
	for in, want := range map[[2]any]string{{"w.onnx", 2}: "w_2.onnx", {"README", 3}: "README_3", {".env", 2}: ".env_2", {"a.tar.gz", 19}: "a.tar_19.gz"} {
		if got := numbered(in[0].(string), in[1].(int)); got != want {
			t.Errorf("numbered(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestBuildModel04: format 0.4 embeds files in strings ("conda:env.yaml",
// "file.py:Callable") and allows "sha256: null"; both are rewritten.
func TestBuildModel04(t *testing.T) {
	src := fixtures.Path(t, "bioimageio-examples", "models", "upsample_test_model")
	dir := t.TempDir()
	put := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"docs.md", "test_input.npy", "test_output.npy", "weights.pt"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		put("files/"+n, b)
	}
	arch := []byte("class Upscaler: pass\n")
	put("src/upsample_model.py", arch)
	put("env/environment.yaml", []byte("dependencies: [pytorch]\n"))
	text, _ := os.ReadFile(filepath.Join(src, "v0_4.bioimageio.yaml"))
	s := string(text)
	for _, r := range [][2]string{
		{"documentation: docs.md", "documentation: files/docs.md"},
		{"test_inputs: [test_input.npy]", "test_inputs: [files/test_input.npy]"},
		{"test_outputs: [test_output.npy]", "test_outputs: [files/test_output.npy]"},
		{"    architecture: upsample_model.py:Upscaler\n    architecture_sha256: 944f960311e1eedc42072fe264cb6b4e544f53cda3da9e6525621e5e3d4ba69b\n    source: weights.pt",
			"    architecture: src/upsample_model.py:Upscaler\n    architecture_sha256: " + sha256Hex(arch) + "\n    dependencies: conda:env/environment.yaml\n    source: files/weights.pt\n    sha256: null"},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("fixture changed: %q not found", r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	put("rdf.yaml", []byte(s))
	z, _ := buildZip(t, dir, BuildOptions{})
	zp := validateZip(t, z)
	_, got := zp.Description()
	weights, _ := os.ReadFile(filepath.Join(src, "weights.pt"))
	for _, want := range []string{
		"documentation: docs.md\n", "test_inputs: [test_input.npy]\n", "test_outputs: [test_output.npy]\n",
		"architecture: upsample_model.py:Upscaler\n", "dependencies: conda:environment.yaml\n",
		"source: weights.pt\n    sha256: " + sha256Hex(weights) + "\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("rdf.yaml lacks %q:\n%s", want, got)
		}
	}
	if n := len(zp.Files()); n != 7 {
		t.Errorf("%d files, want 7", n)
	}
}
