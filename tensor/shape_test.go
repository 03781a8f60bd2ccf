package tensor_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

func iota(t *testing.T, dt tensor.DType, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, shape)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Len() {
		x.SetFloat64(i, float64(i))
	}
	return x
}

func TestFormatShape(t *testing.T) {
	for shape, want := range map[string]string{"": "()", "5": "(5,)", "1 1 512 512": "(1, 1, 512, 512)"} {
		var s []int
		for _, f := range strings.Fields(shape) {
			var d int
			for _, c := range f {
				d = 10*d + int(c-'0')
			}
			s = append(s, d)
		}
		if got := tensor.FormatShape(s); got != want {
			t.Errorf("FormatShape(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		t    *tensor.Tensor
		want string // substring of the error, "" for none
	}{
		{"ok", &tensor.Tensor{DType: tensor.Int16, Shape: []int{2, 3}, Data: make([]byte, 12)}, ""},
		{"scalar", &tensor.Tensor{DType: tensor.Float64, Shape: []int{}, Data: make([]byte, 8)}, ""},
		{"empty", &tensor.Tensor{DType: tensor.Float64, Shape: []int{0, 3}}, ""},
		{"nil", nil, "nil"},
		{"dtype", &tensor.Tensor{DType: "complex64", Shape: []int{1}, Data: make([]byte, 8)}, "unknown dtype"},
		{"negative", &tensor.Tensor{DType: tensor.Uint8, Shape: []int{-1}}, "negative"},
		{"axes", &tensor.Tensor{DType: tensor.Uint8, Shape: []int{1}, Axes: []string{"y", "x"}, Data: []byte{0}}, "axis names"},
		{"data", &tensor.Tensor{DType: tensor.Float32, Shape: []int{2}, Data: make([]byte, 7)}, "needs 8 bytes"},
	}
	for _, tt := range tests {
		err := tt.t.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.want)
		case err != nil && zoo.KindOf(err) != zoo.Invalid:
			t.Errorf("%s: kind %v", tt.name, zoo.KindOf(err))
		}
	}
}

func TestClone(t *testing.T) {
	x := iota(t, tensor.Int32, 2, 3)
	x.Axes = []string{"y", "x"}
	c := x.Clone()
	c.Shape[0], c.Axes[0] = 9, "z"
	c.SetFloat64(0, 42)
	if x.Shape[0] != 2 || x.Axes[0] != "y" || x.Float64At(0) != 0 {
		t.Error("Clone shares Shape, Axes or Data")
	}
	if c.Float64At(5) != 5 {
		t.Error("Clone lost data")
	}
	if (*tensor.Tensor)(nil).Clone() != nil {
		t.Error("nil.Clone() != nil")
	}
}

func TestStrides(t *testing.T) {
	tests := []struct{ shape, want []int }{
		{[]int{}, []int{}},
		{[]int{7}, []int{1}},
		{[]int{2, 3, 4}, []int{12, 4, 1}},
		{[]int{1, 1, 512, 512}, []int{262144, 262144, 512, 1}},
		{[]int{3, 0, 2}, []int{0, 2, 1}},
	}
	for _, tt := range tests {
		x := &tensor.Tensor{DType: tensor.Uint8, Shape: tt.shape}
		if got := x.Strides(); !slices.Equal(got, tt.want) {
			t.Errorf("Strides of %v = %v, want %v", tt.shape, got, tt.want)
		}
	}
}

func TestReshape(t *testing.T) {
	x := iota(t, tensor.Float32, 2, 3, 4)
	x.Axes = []string{"c", "y", "x"}
	tests := []struct {
		in, want []int
		err      string
	}{
		{[]int{6, 4}, []int{6, 4}, ""},
		{[]int{-1}, []int{24}, ""},
		{[]int{2, -1, 2}, []int{2, 6, 2}, ""},
		{[]int{1, 24, 1}, []int{1, 24, 1}, ""},
		{[]int{5, 5}, nil, "do not fit"},
		{[]int{-1, 5}, nil, "do not divide"},
		{[]int{-1, -1}, nil, "only one"},
		{[]int{-2, 12}, nil, "non-negative"},
		{[]int{0, -1}, nil, "do not divide"},
		{[]int{1 << 40, 1 << 40}, nil, "too many"},
	}
	for _, tt := range tests {
		r, err := x.Reshape(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Reshape(%v): error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Reshape(%v): %v", tt.in, err)
			continue
		}
		if !slices.Equal(r.Shape, tt.want) || r.Axes != nil || &r.Data[0] != &x.Data[0] {
			t.Errorf("Reshape(%v) = shape %v axes %v (shares data: %v)", tt.in, r.Shape, r.Axes, &r.Data[0] == &x.Data[0])
		}
	}
	same, err := x.Reshape([]int{2, 3, -1})
	if err != nil || !slices.Equal(same.Axes, x.Axes) {
		t.Errorf("Reshape to the same shape: axes %v, %v", same.Axes, err)
	}
	empty := &tensor.Tensor{DType: tensor.Uint8, Shape: []int{0, 3}}
	if r, err := empty.Reshape([]int{3, 0, 5}); err != nil || r.Len() != 0 {
		t.Errorf("Reshape of an empty tensor: %v", err)
	}
	scalar := iota(t, tensor.Int8, 1)
	if r, err := scalar.Reshape([]int{}); err != nil || len(r.Shape) != 0 {
		t.Errorf("Reshape to a scalar: %v %v", r, err)
	}
}

func TestSqueezeExpandDims(t *testing.T) {
	x := iota(t, tensor.Uint16, 1, 3, 1, 2)
	x.Axes = []string{"b", "y", "c", "x"}
	tests := []struct {
		axes      []int
		wantShape []int
		wantAxes  []string
		err       string
	}{
		{nil, []int{3, 2}, []string{"y", "x"}, ""},
		{[]int{0}, []int{3, 1, 2}, []string{"y", "c", "x"}, ""},
		{[]int{-2, 0}, []int{3, 2}, []string{"y", "x"}, ""},
		{[]int{1}, nil, nil, `axis 1 ("y") of size 3`},
		{[]int{4}, nil, nil, "out of range"},
		{[]int{-5}, nil, nil, "out of range"},
		{[]int{0, -4}, nil, nil, "twice"},
	}
	for _, tt := range tests {
		s, err := x.Squeeze(tt.axes...)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Squeeze(%v): error %v, want %q", tt.axes, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(s.Shape, tt.wantShape) || !slices.Equal(s.Axes, tt.wantAxes) || &s.Data[0] != &x.Data[0] {
			t.Errorf("Squeeze(%v) = %v %v, %v", tt.axes, s.Shape, s.Axes, err)
		}
	}

	y := iota(t, tensor.Float64, 3, 2)
	y.Axes = []string{"y", "x"}
	expand := []struct {
		axis      int
		wantShape []int
		wantAxes  []string
	}{
		{0, []int{1, 3, 2}, []string{"b", "y", "x"}},
		{1, []int{3, 1, 2}, []string{"y", "b", "x"}},
		{2, []int{3, 2, 1}, []string{"y", "x", "b"}},
		{-1, []int{3, 2, 1}, []string{"y", "x", "b"}},
		{-3, []int{1, 3, 2}, []string{"b", "y", "x"}},
	}
	for _, tt := range expand {
		e, err := y.ExpandDims(tt.axis, "b")
		if err != nil || !slices.Equal(e.Shape, tt.wantShape) || !slices.Equal(e.Axes, tt.wantAxes) {
			t.Errorf("ExpandDims(%d) = %v %v, %v", tt.axis, e.Shape, e.Axes, err)
		}
	}
	if y.Shape[0] != 3 || len(y.Shape) != 2 || len(y.Axes) != 2 {
		t.Error("ExpandDims changed its receiver")
	}
	for _, axis := range []int{3, -4} {
		if _, err := y.ExpandDims(axis, "b"); err == nil {
			t.Errorf("ExpandDims(%d): no error", axis)
		}
	}
	y.Axes = nil
	if e, err := y.ExpandDims(0, "b"); err != nil || e.Axes != nil {
		t.Errorf("ExpandDims without axis names: %v %v", e.Axes, err)
	}
	s := iota(t, tensor.Int8, 1, 1)
	if q, err := s.Squeeze(); err != nil || len(q.Shape) != 0 || q.Len() != 1 {
		t.Errorf("Squeeze to a scalar: %v %v", q, err)
	}
}
