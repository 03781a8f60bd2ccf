//go:build !amd64 || purego

package process

// sigmoidVector is the vector sigmoid of sigmoid_amd64.go; other
// architectures, and builds with -tags purego, use the scalar loop.
func sigmoidVector(dst, src []float32) int { return 0 }

// hasSigmoidVector is false: there is no vector sigmoid here.
const hasSigmoidVector = false
