// Package zoo holds the domain nouns of the zoo model repository and the one
// error type every layer uses.
//
// Implementations live in subpackages named after what they depend on
// (spec, tensor, onnx, sqlite, …); this package depends on none of them.
// See docs/architecture.md for the map.
package zoo
