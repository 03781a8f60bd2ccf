// Command zoo-wasm is zoo's in-browser runner: package browserrun compiled
// to WebAssembly (make build: GOOS=js GOARCH=wasm, installed by
// scripts/install-browser-runtime.sh beside ONNX Runtime Web; served by
// zoo at /browser-runtime/). The page (pages/static/browser-run.js) loads
// it with Go's wasm_exec.js and calls the global zooBrowserRun:
//
//	zooBrowserRun.supported(description: Uint8Array) → "" or why not
//	zooBrowserRun.run({description, image: Uint8Array, plane: number,
//	    model: async (inputs) → outputs, progress: (done, total) → void})
//	  → {promise, cancel}
//	zooBrowserRun.selfTest({description, input, output: Uint8Array (.npy),
//	    model}) → promise of the comparison's summary; rejects when the
//	    browser's output misses the model's test tolerance
//
// inputs and outputs are arrays of {type, dims, data: Uint8Array} (packed
// little-endian, C order, as ONNX Runtime Web's tensors); the promise
// resolves to {tiff, npy, inputPNG, outputPNG: Uint8Array, notes: string[],
// blocks, shape} or rejects with an Error whose message is for the person
// and whose name is the zoo error kind.
package main
