// Command ortrun is the bare ONNX Runtime process that bench/runtime.sh
// compares `zoo predict` with: it loads an ONNX model, reads one already
// preprocessed input tensor (.npy) and runs the model once, through zoo's
// onnx package and nothing else (no description, processing or output).
//
//	ortrun MODEL.onnx INPUT.npy
package main

import (
	"fmt"
	"os"

	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ortrun MODEL.onnx INPUT.npy")
		os.Exit(2)
	}
	sess, err := onnx.Load(os.Args[1], onnx.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ortrun:", err)
		os.Exit(1)
	}
	defer sess.Close()
	x, err := npy.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ortrun:", err)
		os.Exit(1)
	}
	if _, err := sess.Run([]*tensor.Tensor{x}); err != nil {
		fmt.Fprintln(os.Stderr, "ortrun:", err)
		os.Exit(1)
	}
}
