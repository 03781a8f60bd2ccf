// Command convertible counts, over a folder of model descriptions (e.g.
// ../shared/fixtures/rdf-corpus/rdfs), how many models zoo runs natively
// (ONNX or TorchScript weights), how many it runs after converting their
// pytorch_state_dict weights (an architecture shipped as a .py file in the
// package), and how many not at all, with the reason. It reads only the
// descriptions: whether an architecture needs more than PyTorch is known
// only from the package's files, which a corpus of descriptions lacks, so
// "after conversion" is the upper bound a real conversion run approaches.
//
//	go run ./bench/convertible DIR [--json]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zoo-bioimage/zoo/spec"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/convertible DIR [--json]")
		os.Exit(2)
	}
	files, _ := filepath.Glob(filepath.Join(os.Args[1], "*.yaml"))
	counts := map[string]int{}
	models, stateDict := 0, 0
	for _, f := range files {
		m, _, res, err := spec.Load(f, spec.Options{})
		if res == nil || res.Report.Type != "model" {
			continue
		}
		models++
		if err != nil || m == nil {
			counts["not at all: invalid description"]++
			continue
		}
		w := m.Weights
		if w.PytorchStateDict != nil {
			stateDict++
		}
		switch {
		case w.ONNX != nil || w.Torchscript != nil:
			counts["natively (onnx or torchscript)"]++
		case w.PytorchStateDict != nil:
			a := w.PytorchStateDict.Architecture
			switch {
			case a == nil:
				counts["not at all: state dict without architecture"]++
			case a.ImportFrom != "":
				counts["not at all: architecture imported from a Python package ("+strings.Split(a.ImportFrom, ".")[0]+")"]++
			case strings.Contains(w.PytorchStateDict.Source, "://") || strings.Contains(a.Source, "://"):
				counts["after conversion, once its files are fetched (weights or architecture given as a URL)"]++
			default:
				counts["after conversion (architecture .py in the package)"]++
			}
		case w.KerasHDF5 != nil || w.TensorflowSavedModelBundle != nil || w.TensorflowJS != nil:
			counts["not at all: TensorFlow/Keras only (TensorFlow is not installable here)"]++
		default:
			counts["not at all: no weights"]++
		}
	}
	if len(os.Args) > 2 && os.Args[2] == "--json" {
		json.NewEncoder(os.Stdout).Encode(map[string]any{"models": models, "with_state_dict": stateDict, "counts": counts})
		return
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("%d model descriptions in %s (%d with pytorch_state_dict weights)\n\n", models, os.Args[1], stateDict)
	fmt.Println("| zoo runs it | models | share |")
	fmt.Println("|---|---:|---:|")
	for _, k := range keys {
		fmt.Printf("| %s | %d | %.0f %% |\n", k, counts[k], 100*float64(counts[k])/float64(models))
	}
}
