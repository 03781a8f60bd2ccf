package bundle

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
)

// zent is one entry of a zip made by makeZip.
type zent struct {
	name string
	data string
	mode fs.FileMode // 0: a regular file 0644
	edit func(*zip.FileHeader)
	raw  bool // write data as is (CreateRaw); edit sets sizes and CRC
}

const minimalYAML = "type: model\nformat_version: 0.5.7\n"

// makeZip writes the entries with archive/zip.
func makeZip(t testing.TB, ents ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		} else {
			fh.SetMode(0o644)
		}
		if e.edit != nil {
			e.edit(fh)
		}
		var w io.Writer
		var err error
		if e.raw {
			w, err = zw.CreateRaw(fh)
		} else {
			w, err = zw.CreateHeader(fh)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openBytes(b []byte, lim Limits) (*Package, error) {
	return OpenZip(bytes.NewReader(b), int64(len(b)), lim)
}

// wantErr checks err is a *zoo.Error of kind whose message contains every
// fragment.
func wantErr(t testing.TB, err error, kind zoo.Kind, fragments ...string) {
	t.Helper()
	var ze *zoo.Error
	if !errors.As(err, &ze) {
		t.Fatalf("got %v (%T), want a *zoo.Error of kind %v", err, err, kind)
	}
	if ze.Kind != kind {
		t.Errorf("kind %v, want %v: %v", ze.Kind, kind, err)
	}
	for _, f := range fragments {
		if !strings.Contains(ze.Message, f) {
			t.Errorf("message %q does not contain %q", ze.Message, f)
		}
	}
}

// zeroDeflate returns a raw Deflate stream of n MiB of zero bytes, built
// from one compressed MiB repeated: a sync flush ends each copy on a byte
// boundary with a non-final block, and back references stay within zeros.
// Deflate cannot expand more than 1032:1, so 1 GiB takes about 1 MiB.
func zeroDeflate(t testing.TB, mib int) []byte {
	t.Helper()
	var seg bytes.Buffer
	fw, _ := flate.NewWriter(&seg, flate.BestCompression)
	fw.Write(make([]byte, 1<<20))
	fw.Flush()
	out := bytes.Repeat(seg.Bytes(), mib)
	return append(out, 0x01, 0x00, 0x00, 0xff, 0xff) // final empty stored block
}

// centralHeaders returns the offsets of the central directory headers.
func centralHeaders(b []byte) []int {
	var offs []int
	for i := 0; i+46 <= len(b); i++ {
		if binary.LittleEndian.Uint32(b[i:]) == 0x02014b50 {
			offs = append(offs, i)
			n := int(binary.LittleEndian.Uint16(b[i+28:])) + int(binary.LittleEndian.Uint16(b[i+30:])) + int(binary.LittleEndian.Uint16(b[i+32:]))
			i += 45 + n
		}
	}
	return offs
}

func TestZeroDeflateInflates(t *testing.T) {
	n, err := io.Copy(io.Discard, flate.NewReader(bytes.NewReader(zeroDeflate(t, 4))))
	if err != nil || n != 4<<20 {
		t.Fatalf("inflated %d bytes (%v), want 4 MiB", n, err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func zipReader(b []byte) (*zip.Reader, error) {
	return zip.NewReader(bytes.NewReader(b), int64(len(b)))
}
