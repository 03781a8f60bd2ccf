//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main outside a browser says how the command is built.
func main() {
	fmt.Fprintln(os.Stderr, "zoo-wasm runs in a web browser: build it with GOOS=js GOARCH=wasm go build ./cmd/zoo-wasm (make build does)")
	os.Exit(2)
}
