package runner

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// PredictFile predicts one image file with a single-input model and
// writes every output in the input's format (see WriteImage) to outDir:
// OUTDIR/<input name>.<ext> for a model's only output,
// OUTDIR/<input name>_<output id>.<ext> for one of several. axes (letters,
// nil to guess) name the file's dimensions (see ToInput). Dataset
// statistics are those of the image alone. It returns the files written
// and notes for the user (e.g. how PNG values were scaled).
//
// It is ReadInput followed by PredictInput; a caller predicting many files
// may read the next one while the current one runs.
func PredictFile(ctx context.Context, p *Predictor, file, outDir string, axes []string, tiling Tiling) (written, notes []string, err error) {
	x, readNotes, err := ReadInput(p.Model, file, axes)
	if err != nil {
		return nil, nil, err
	}
	written, notes, err = PredictInput(ctx, p, x, file, outDir, tiling)
	return written, append(readNotes, notes...), err
}

// ReadInput reads an image file (see ReadImage) and maps it to the first
// input of m (see ToInput). It needs only the description, not the loaded
// model, so it may run while the model loads. notes say what was
// converted (see ToInputNoted), for the person.
func ReadInput(m *spec.Model, file string, axes []string) (x *tensor.Tensor, notes []string, err error) {
	img, err := ReadImage(file)
	if err != nil {
		return nil, nil, err
	}
	return ToInputNoted(img, &m.Inputs[0], axes)
}

// PredictInput predicts x, the input ReadInput made of file, and writes the
// outputs as PredictFile does. It takes x over: x is overwritten.
func PredictInput(ctx context.Context, p *Predictor, x *tensor.Tensor, file, outDir string, tiling Tiling) (written, notes []string, err error) {
	m := p.Model
	sample := Sample{m.Inputs[0].ID: x}
	if err := p.UseDatasetStats([]Sample{sample}); err != nil {
		return nil, nil, err
	}
	out, err := p.PredictTiledInPlace(ctx, sample, tiling) // the image is ours
	if err != nil {
		return nil, nil, err
	}
	sample, x = nil, nil // let the input go before writing
	format := ImageFormat(file)
	for i := range m.Outputs {
		o := &m.Outputs[i]
		path := OutputPath(outDir, file, o.ID, len(m.Outputs) > 1)
		note, err := WriteImage(path, format, out[o.ID], o)
		if err != nil {
			return written, notes, err
		}
		if note != "" {
			notes = append(notes, note)
		}
		written = append(written, path)
		out[o.ID] = nil
	}
	return written, notes, nil
}

// OutputPath is OUTDIR/<input name>.<ext> for a model's only output and
// OUTDIR/<input name>_<output id>.<ext> for one of several; <ext> is the
// input's extension as written.
func OutputPath(outDir, input, outputID string, several bool) string {
	base := filepath.Base(input)
	ext := filepath.Ext(base)
	name := strings.TrimSuffix(base, ext)
	if several {
		name += "_" + outputID
	}
	return filepath.Join(outDir, name+ext)
}
