// Command gen writes, into the folder named by its argument, the raw pixel files that gen.sh turns into the TIFF
// test files with libtiff's raw2tiff and tiffcp. The pixel values follow
// pattern, which the tests recompute (keep the two in step).
package main

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
)

const width, height = 67, 45

// pattern is the value of sample c of pixel (x, y) of page z.
func pattern(x, y, c, z int) int { return x*7 + y*13 + c*31 + z*101 + (x*y)%11 }

func main() {
	dir := os.Args[1]
	for _, spp := range []int{1, 3} {
		for z := range 3 {
			for _, dt := range []string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64"} {
				if (spp == 3 || z > 0) && dt != "u8" && dt != "u16" {
					continue
				}
				var b []byte
				le := binary.LittleEndian
				for y := range height {
					for x := range width {
						for c := range spp {
							v := pattern(x, y, c, z)
							switch dt {
							case "u8", "i8":
								b = append(b, byte(v))
							case "u16", "i16":
								b = le.AppendUint16(b, uint16(v*97))
							case "u32", "i32":
								b = le.AppendUint32(b, uint32(v)*2654435761)
							case "f32":
								b = le.AppendUint32(b, math.Float32bits(float32(v)*0.37-20))
							case "f64":
								b = le.AppendUint64(b, math.Float64bits(float64(v)*0.1234567891234-1.5))
							}
						}
					}
				}
				name := dt
				if spp == 3 {
					name = "rgb_" + dt
				}
				if z > 0 {
					name += "_p" + string(rune('0'+z))
				}
				if err := os.WriteFile(filepath.Join(dir, name+".raw"), b, 0o644); err != nil {
					panic(err)
				}
			}
		}
	}
}
