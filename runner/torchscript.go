//go:build !js

package runner

import (
	"context"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/torch"
)

// The TorchScript backend is registered when its shim and libtorch are
// installed (torch.Available: file lookups, no library is loaded), which
// is found out the first time the backend registry is consulted, not at
// start-up. Elsewhere the format stays unsupported and ErrNotSupported
// says what to install. The check is made once per process: a server
// started before `make build` built the shim needs a restart to run
// TorchScript.
func init() {
	registerProbed("torchscript", func() (Backend, string) {
		if torch.Available() != nil {
			return nil, torch.NotInstalled
		}
		return openTorchScript, ""
	})
}

// torchModel adapts a torch.Module to Model: it converts each input to
// float32 and binds inputs and outputs by position.
type torchModel struct {
	mod     *torch.Module
	source  string
	outputs int
}

func openTorchScript(w Weights) (Model, error) {
	const op = "runner.torchscript"
	local, cleanup, err := localFiles(w.Source, []string{w.Entry.Source})
	if err != nil {
		return nil, err
	}
	defer cleanup() // libtorch has read the whole file once Load returns
	mod, err := torch.Load(local[0], w.Threads)
	if err != nil {
		return nil, err
	}
	total, required := mod.NumInputs()
	if n := len(w.Model.Inputs); n < required || n > total {
		mod.Close()
		return nil, zoo.E(op, zoo.Invalid, nil, "%s: forward takes %d inputs, the description has %d", w.Entry.Source, total, n)
	}
	return &torchModel{mod: mod, source: w.Entry.Source, outputs: len(w.Model.Outputs)}, nil
}

func (m *torchModel) Run(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	in := make([]*tensor.Tensor, len(inputs))
	for i, t := range inputs {
		in[i] = t
		if t != nil && t.DType != tensor.Float32 {
			c, err := t.Convert(tensor.Float32)
			if err != nil {
				return nil, err
			}
			in[i] = c
		}
	}
	out, err := m.mod.Run(ctx, in)
	if err != nil {
		return nil, err
	}
	if len(out) != m.outputs {
		return nil, zoo.E("runner.torchscript", zoo.Invalid, nil, "%s returned %d outputs, the description has %d", m.source, len(out), m.outputs)
	}
	return out, nil
}

func (m *torchModel) Close() error { return m.mod.Close() }
