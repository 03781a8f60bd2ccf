package ftserver

import (
	"archive/zip"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/runner"
)

// DataLimits bound the zip of images a user submits.
type DataLimits struct {
	MaxImages int   // images (masks not counted); default 1000
	MaxBytes  int64 // bytes of all files after decompression; default 1 GiB
}

func (l DataLimits) orDefault() DataLimits {
	if l.MaxImages <= 0 {
		l.MaxImages = 1000
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 30
	}
	return l
}

// Data is what a submitted zip holds: image names, and the names of those
// with a mask.
type Data struct {
	Images []string
	Masks  []string
	Clean  []string
}

// ReadData checks the zip at p and, when dir is not "", extracts it into
// dir/images, dir/masks and dir/clean. The zip holds images (.tif, .tiff, .png,
// .npy) at its top level or under images/, for segmentation their label
// masks with the same names under masks/, and for denoising optionally
// clean images with the same names under clean/ (the held-out metric is
// then MSE/PSNR against them); nothing else but folders
// and hidden files (ignored, e.g. __MACOSX/, .DS_Store). Sizes are
// counted while inflating, so a zip bomb stops at the limit whatever its
// header claims.
func ReadData(p, dir string, lim DataLimits) (*Data, error) {
	const op = "ftjob.ReadData"
	lim = lim.orDefault()
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "the upload is not a readable zip file; zip your images (and a masks/ folder for segmentation)")
	}
	defer zr.Close()
	if len(zr.File) > 4*lim.MaxImages+100 {
		return nil, zoo.E(op, zoo.TooLarge, nil, "the zip holds %d entries; at most %d images (and their masks) are taken", len(zr.File), lim.MaxImages)
	}
	d := &Data{}
	seen := map[string]bool{}
	var total int64
	for _, f := range zr.File {
		name := f.Name
		if strings.HasSuffix(name, "/") || f.FileInfo().IsDir() {
			continue
		}
		if strings.Contains(name, "\\") || strings.HasPrefix(name, "/") || path.Clean(name) != name || strings.Contains(name, "..") {
			return nil, zoo.E(op, zoo.Invalid, nil, "the zip entry %q has an unsafe name", name)
		}
		parts := strings.Split(name, "/")
		if hidden(parts) {
			continue
		}
		if !f.Mode().IsRegular() {
			return nil, zoo.E(op, zoo.Invalid, nil, "the zip entry %s is not a plain file (links are not taken)", name)
		}
		role, base := "images", parts[len(parts)-1]
		switch {
		case len(parts) == 1:
		case len(parts) == 2 && (parts[0] == "images" || parts[0] == "masks" || parts[0] == "clean"):
			role = parts[0]
		default:
			return nil, zoo.E(op, zoo.Invalid, nil, "the zip entry %s is in a folder zoo does not read: put images at the top or under images/, masks under masks/, clean images under clean/", name)
		}
		if runner.ImageFormat(base) == "" {
			return nil, zoo.E(op, zoo.Invalid, nil, "%s is not an image zoo reads (.tif, .tiff, .png, .npy)", name)
		}
		key := role + "/" + base
		if seen[key] {
			return nil, zoo.E(op, zoo.Invalid, nil, "the zip holds two %s named %s", role, base)
		}
		seen[key] = true
		switch role {
		case "images":
			d.Images = append(d.Images, base)
		case "masks":
			d.Masks = append(d.Masks, base)
		default:
			d.Clean = append(d.Clean, base)
		}
		if len(d.Images) > lim.MaxImages {
			return nil, zoo.E(op, zoo.TooLarge, nil, "the zip holds more than %d images, the most a fine-tuning job takes", lim.MaxImages)
		}
		n, err := copyEntry(f, dir, role, base, lim.MaxBytes-total)
		total += n
		if err != nil {
			return nil, err
		}
		if total > lim.MaxBytes {
			return nil, zoo.E(op, zoo.TooLarge, nil, "the images in the zip are larger than %d MiB uncompressed, the most a fine-tuning job takes", lim.MaxBytes>>20)
		}
	}
	if len(d.Images) < 2 {
		return nil, zoo.E(op, zoo.Invalid, nil, "the zip holds %d image(s); fine-tuning needs at least 2 (one is held out to measure the result)", len(d.Images))
	}
	return d, nil
}

func hidden(parts []string) bool {
	for _, p := range parts {
		if strings.HasPrefix(p, ".") || p == "__MACOSX" {
			return true
		}
	}
	return false
}

// copyEntry inflates f (at most budget+1 bytes) into dir/role/base, or
// only counts its bytes when dir is "".
func copyEntry(f *zip.File, dir, role, base string, budget int64) (int64, error) {
	const op = "ftjob.ReadData"
	rc, err := f.Open()
	if err != nil {
		return 0, zoo.E(op, zoo.Invalid, err, "cannot read %s in the zip", f.Name)
	}
	defer rc.Close()
	w := io.Discard
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, role), 0o755); err != nil {
			return 0, zoo.E(op, zoo.Internal, err, "cannot make a folder for the images")
		}
		out, err := os.Create(filepath.Join(dir, role, base))
		if err != nil {
			return 0, zoo.E(op, zoo.Internal, err, "cannot write %s", base)
		}
		defer out.Close()
		w = out
	}
	n, err := io.Copy(w, io.LimitReader(rc, budget+1))
	if err != nil {
		return n, zoo.E(op, zoo.Invalid, err, "cannot read %s in the zip (is the zip damaged?)", f.Name)
	}
	return n, nil
}
