//go:build !amd64

package process

// sigmoidVector is the vector sigmoid of sigmoid_amd64.go; other
// architectures use the scalar loop.
func sigmoidVector(dst, src []float32) int { return 0 }
