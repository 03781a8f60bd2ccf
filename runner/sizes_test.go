package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
)

// The example of the reference's test_model_with_expanded_output (§12):
// input y {min 256, step 8}, x referring to y, n = 1, batch 13.
func expandedOutputModel() *spec.Model {
	scaled := func(id string, s spec.Size, scale float64) spec.Axis {
		a := ax(spec.AxisSpace, id, s)
		a.Scale = scale
		return a
	}
	ch := spec.Axis{Type: spec.AxisChannel, ID: "channel", ChannelNames: []string{"a", "b", "c"}, Size: fixed(3), Scale: 1}
	return &spec.Model{
		Inputs: []spec.Tensor{{ID: "input_1", Axes: []spec.Axis{
			ax(spec.AxisBatch, "batch", anyBatch), ch,
			ax(spec.AxisSpace, "y", param(256, 8)), ax(spec.AxisSpace, "x", ref("input_1", "y", 0)),
		}}},
		Outputs: []spec.Tensor{{ID: "output_1", Axes: []spec.Axis{
			ax(spec.AxisBatch, "batch", anyBatch), ch,
			ax(spec.AxisSpace, "z", fixed(7)),
			scaled("x", ref("input_1", "y", 0), 0.5),
			scaled("y", ref("input_1", "y", 0), 4),
		}}},
	}
}

func TestAxisSizesReferenceExample(t *testing.T) {
	m := expandedOutputModel()
	in, err := InputSizes(m, 1, 13)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Shape(&m.Inputs[0]); !slices.Equal(got, []int{13, 3, 264, 264}) {
		t.Fatalf("inputs %v, want (13, 3, 264, 264)", got)
	}
	out, err := OutputSizes(m, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Shape(&m.Outputs[0]); !slices.Equal(got, []int{13, 3, 7, 528, 66}) {
		t.Fatalf("outputs %v, want (13, 3, 7, 528, 66)", got)
	}
}

func TestValidSizes(t *testing.T) {
	p := ax(spec.AxisSpace, "y", param(32, 16))
	f := ax(spec.AxisSpace, "y", fixed(512))
	for _, c := range []struct {
		a                    *spec.Axis
		n                    int
		valid                bool
		next, atMost, paramN int
	}{
		{&p, 32, true, 32, 32, 0},
		{&p, 33, false, 48, 32, 1},
		{&p, 48, true, 48, 48, 1},
		{&p, 1000, false, 1008, 992, 61},
		{&p, 10, false, 32, 32, 0},
		{&f, 512, true, 512, 512, 0},
		{&f, 100, false, 512, 512, 0},
	} {
		if got := ValidSize(c.a, c.n); got != c.valid {
			t.Errorf("ValidSize(%v, %d) = %v", c.a.Size, c.n, got)
		}
		if got := NextValid(c.a, c.n); got != c.next {
			t.Errorf("NextValid(%v, %d) = %d, want %d", c.a.Size, c.n, got, c.next)
		}
		if got := ValidAtMost(c.a, c.n); got != c.atMost {
			t.Errorf("ValidAtMost(%v, %d) = %d, want %d", c.a.Size, c.n, got, c.atMost)
		}
		if got := ParamN(c.a, c.n); got != c.paramN {
			t.Errorf("ParamN(%v, %d) = %d, want %d", c.a.Size, c.n, got, c.paramN)
		}
	}
}

func TestCheckInputs(t *testing.T) {
	m := expandedOutputModel()
	ok := Sizes{"input_1": {"batch": 2, "channel": 3, "y": 272, "x": 272}}
	if err := CheckInputs(m, ok); err != nil {
		t.Fatal(err)
	}
	bad := Sizes{"input_1": {"batch": 2, "channel": 2, "y": 270, "x": 272}}
	err := CheckInputs(m, bad)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"channel has size 2; the model takes 3", "y has size 270; the model takes 256 + k·8 (e.g. 264 or 272)", "x has size 272; its reference input_1.y makes it 270"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestCheckOutputs(t *testing.T) {
	m := expandedOutputModel()
	in, _ := InputSizes(m, 0, 1)
	want, _ := OutputSizes(m, in)
	if err := CheckOutputs(m, want, map[string][]int{"output_1": {1, 3, 7, 512, 64}}); err != nil {
		t.Fatal(err)
	}
	err := CheckOutputs(m, want, map[string][]int{"output_1": {1, 3, 7, 512, 65}})
	if err == nil || !strings.Contains(err.Error(), "output output_1 has shape (1, 3, 7, 512, 65), expected (1, 3, 7, 512, 64)") {
		t.Fatalf("got %v", err)
	}
}

func TestTestCases(t *testing.T) {
	m := expandedOutputModel()
	if got := TestNs(m); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("ns %v", got)
	}
	if got := TestBatchSizes(m); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("batches %v", got)
	}
	m = model2d(fixed(64), fixed(1), 1, 0, 0)
	if got := TestNs(m); !slices.Equal(got, []int{0}) {
		t.Errorf("fixed: ns %v", got)
	}
	if got := TestBatchSizes(m); !slices.Equal(got, []int{1}) {
		t.Errorf("batch 1: batches %v", got)
	}
}

func TestBatchMismatch(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	in2 := m.Inputs[0]
	in2.ID = "in2"
	m.Inputs = append(m.Inputs, in2)
	_, err := BatchSize(m, Sizes{"in": {"batch": 2}, "in2": {"batch": 3}})
	if err == nil || !strings.Contains(err.Error(), "batch size mismatch") {
		t.Fatalf("got %v", err)
	}
	if n, err := BatchSize(m, Sizes{"in": {"batch": 1}, "in2": {"batch": 3}}); err != nil || n != 3 {
		t.Fatalf("got %d, %v", n, err)
	}
}

func TestScaleRatio(t *testing.T) {
	for _, c := range []struct {
		ref, scale float64
		want       ratio
	}{{1, 1, ratio{1, 1}}, {1, 2, ratio{1, 2}}, {1, 0.25, ratio{4, 1}}, {2, 3, ratio{2, 3}}, {0.5, 0.5, ratio{1, 1}}} {
		got, ok := scaleRatio(c.ref, c.scale)
		if !ok || got != c.want {
			t.Errorf("scaleRatio(%g, %g) = %v %v, want %v", c.ref, c.scale, got, ok, c.want)
		}
	}
	if _, ok := scaleRatio(1, 3.14159265); ok {
		t.Error("π has no small ratio")
	}
}
