package runner

import (
	"context"
	"path/filepath"
	"strings"
)

// PredictFile predicts one image file with a single-input model and
// writes every output in the input's format (see WriteImage) to outDir:
// OUTDIR/<input name>.<ext> for a model's only output,
// OUTDIR/<input name>_<output id>.<ext> for one of several. axes (letters,
// nil to guess) name the file's dimensions (see ToInput). Dataset
// statistics are those of the image alone. It returns the files written
// and notes for the user (e.g. how PNG values were scaled).
func PredictFile(ctx context.Context, p *Predictor, file, outDir string, axes []string, tiling Tiling) (written, notes []string, err error) {
	m := p.Model
	img, err := ReadImage(file)
	if err != nil {
		return nil, nil, err
	}
	x, err := ToInput(img, &m.Inputs[0], axes)
	if err != nil {
		return nil, nil, err
	}
	sample := Sample{m.Inputs[0].ID: x}
	if err := p.UseDatasetStats([]Sample{sample}); err != nil {
		return nil, nil, err
	}
	out, err := p.PredictTiledInPlace(ctx, sample, tiling) // the image is ours
	if err != nil {
		return nil, nil, err
	}
	sample, x, img = nil, nil, nil // let the input go before writing
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
