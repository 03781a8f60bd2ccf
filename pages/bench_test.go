package pages_test

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkPages: server time of the main pages, in process (SQLite, the
// scan search over a few published models; descriptions cached after the
// first request). Target: each page under 20 ms.
func BenchmarkPages(b *testing.B) {
	e := newTestEnv(b, nil)
	v := e.publish("unet2d-nuclei-broad-onnx", "")
	e.publish("upsample-onnx", "")
	for _, path := range []string{"/", "/search?q=nuclei", "/models/" + v.ModelID, "/models/" + v.ModelID + "/1/examples/input-0.png"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				res, err := http.Get(e.srv.URL + path)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("%s: %s", path, res.Status)
				}
			}
		})
	}
}
