package score

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo/tensor"
)

// Metric names a metric as zoo score and challenges spell it.
type Metric string

// The metrics.
const (
	MetricPSNR   Metric = "psnr"    // PSNR in dB (higher is better)
	MetricSIPSNR Metric = "si-psnr" // scale-invariant PSNR in dB
	MetricSSIM   Metric = "ssim"    // structural similarity
	MetricMSE    Metric = "mse"     // mean squared error (lower is better)
	MetricMAE    Metric = "mae"     // mean absolute error (lower is better)
	MetricIoU    Metric = "iou"     // foreground IoU of label images
	MetricDice   Metric = "dice"    // foreground Dice of label images
	MetricF1     Metric = "f1"      // instance F1 at IoU ≥ threshold
	MetricAP     Metric = "ap"      // instance AP = TP/(TP+FP+FN) at IoU ≥ threshold
	MetricMeanAP Metric = "mean-ap" // mean AP over IoU 0.50…0.95
	MetricPQ     Metric = "pq"      // panoptic quality
)

// Metrics lists every metric.
var Metrics = []Metric{MetricPSNR, MetricSIPSNR, MetricSSIM, MetricMSE, MetricMAE,
	MetricIoU, MetricDice, MetricF1, MetricAP, MetricMeanAP, MetricPQ}

// ParseMetric returns the metric named s, or an error listing the names.
func ParseMetric(s string) (Metric, error) {
	if m := Metric(s); slices.Contains(Metrics, m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown metric %q; use one of %s", s, metricNames())
}

func metricNames() string {
	names := make([]string, len(Metrics))
	for i, m := range Metrics {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// Labels reports whether m compares label images (segmentation) rather
// than intensities.
func (m Metric) Labels() bool {
	switch m {
	case MetricIoU, MetricDice, MetricF1, MetricAP, MetricMeanAP, MetricPQ:
		return true
	}
	return false
}

// HigherIsBetter reports the direction of m: false for the errors MSE and MAE.
func (m Metric) HigherIsBetter() bool { return m != MetricMSE && m != MetricMAE }

// TakesThreshold reports whether m has an IoU threshold (f1, ap).
func (m Metric) TakesThreshold() bool { return m == MetricF1 || m == MetricAP }

// TakesDataRange reports whether m uses a data range (psnr, si-psnr, ssim).
func (m Metric) TakesDataRange() bool {
	return m == MetricPSNR || m == MetricSIPSNR || m == MetricSSIM
}

// Unit is "dB" for the PSNRs and "" otherwise.
func (m Metric) Unit() string {
	if m == MetricPSNR || m == MetricSIPSNR {
		return "dB"
	}
	return ""
}

// DefaultThreshold is the IoU threshold of f1 and ap when none is given.
const DefaultThreshold = 0.5

// Options are the parameters of Compute; the zero value gives the defaults.
type Options struct {
	// Threshold is the IoU threshold τ of f1 and ap, in (0, 1]; 0 means
	// DefaultThreshold. Other metrics refuse a threshold.
	Threshold float64
	// DataRange is L of psnr, si-psnr and ssim, > 0; 0 means the ground
	// truth's max − min. Other metrics refuse a data range.
	DataRange float64
}

// Check reports options that m does not take or that are out of range.
func (o Options) Check(m Metric) error {
	if _, err := ParseMetric(string(m)); err != nil {
		return err
	}
	if o.Threshold != 0 {
		if !m.TakesThreshold() {
			return fmt.Errorf("metric %s takes no IoU threshold (only f1 and ap do; mean-ap averages 0.50…0.95, pq matches at IoU > 0.5)", m)
		}
		if !(o.Threshold > 0 && o.Threshold <= 1) {
			return fmt.Errorf("IoU threshold %v is outside (0, 1]", o.Threshold)
		}
	}
	if o.DataRange != 0 {
		if !m.TakesDataRange() {
			return fmt.Errorf("metric %s takes no data range (only psnr, si-psnr and ssim do)", m)
		}
		if !(o.DataRange > 0 && !math.IsInf(o.DataRange, 1)) {
			return fmt.Errorf("data range %v is not a positive number", o.DataRange)
		}
	}
	return nil
}

// The inputs an InputError names.
const (
	Truth      = "truth"
	Prediction = "prediction"
)

// InputError says which input (Truth or Prediction) cannot be scored and
// why; callers prefix it with the input's file name.
type InputError struct {
	Input  string // Truth or Prediction
	Reason string // e.g. "has NaN at index (3, 7) (and 2 more non-finite values)"
}

func (e *InputError) Error() string { return e.Input + ": " + e.Reason }

// Compute scores prediction pred against ground truth truth with metric m.
// Both must have the same shape and at least one element. Intensity metrics
// need finite values (no NaN or ±Inf) and, without Options.DataRange, a
// ground truth that is not constant; label metrics need non-negative whole
// numbers. Problems with an input are *InputError; a bad metric or option
// is a plain error (see Options.Check).
func Compute(m Metric, truth, pred *tensor.Tensor, opt Options) (float64, error) {
	if err := opt.Check(m); err != nil {
		return 0, err
	}
	if !slices.Equal(truth.Shape, pred.Shape) {
		return 0, &InputError{Prediction, fmt.Sprintf("shape %s differs from the ground truth's %s", tensor.FormatShape(pred.Shape), tensor.FormatShape(truth.Shape))}
	}
	if truth.Len() == 0 {
		return 0, &InputError{Truth, fmt.Sprintf("is empty (shape %s)", tensor.FormatShape(truth.Shape))}
	}
	if m.Labels() {
		return computeLabels(m, truth, pred, opt)
	}
	if m == MetricSSIM {
		truth, pred = yxLast(truth, pred)
	}
	t, err := Floats(truth)
	if err != nil {
		return 0, &InputError{Truth, err.Error()}
	}
	p, err := Floats(pred)
	if err != nil {
		return 0, &InputError{Prediction, err.Error()}
	}
	switch m {
	case MetricMSE:
		return MSE(t, p), nil
	case MetricMAE:
		return MAE(t, p), nil
	}
	if m == MetricSIPSNR && DataRange(t) == 0 {
		return 0, &InputError{Truth, fmt.Sprintf("is constant (every value is %g); SI-PSNR divides by its standard deviation, which is 0", t[0])}
	}
	L := opt.DataRange
	if L == 0 {
		if L = DataRange(t); L == 0 {
			return 0, &InputError{Truth, fmt.Sprintf("is constant (every value is %g), so its data range max − min is 0; give the data range explicitly", t[0])}
		}
	}
	switch m {
	case MetricPSNR:
		return PSNR(t, p, L), nil
	case MetricSIPSNR:
		return SIPSNR(t, p, L), nil
	}
	v, err := SSIM(t, p, truth.Shape, L)
	if err != nil {
		return 0, &InputError{Truth, fmt.Sprintf("has shape %s: %v", tensor.FormatShape(truth.Shape), err)}
	}
	return v, nil
}

func computeLabels(m Metric, truth, pred *tensor.Tensor, opt Options) (float64, error) {
	t, err := Labels(truth)
	if err != nil {
		return 0, &InputError{Truth, err.Error()}
	}
	p, err := Labels(pred)
	if err != nil {
		return 0, &InputError{Prediction, err.Error()}
	}
	switch m {
	case MetricIoU:
		return IoU(t, p), nil
	case MetricDice:
		return Dice(t, p), nil
	}
	o := Overlaps(t, p)
	tau := opt.Threshold
	if tau == 0 {
		tau = DefaultThreshold
	}
	switch m {
	case MetricF1:
		return o.Match(tau).F1(), nil
	case MetricAP:
		return o.Match(tau).AP(), nil
	case MetricMeanAP:
		return o.MeanAP(), nil
	}
	return o.PanopticMatch().PQ(), nil
}

// yxLast moves the axes the ground truth names y and x to the end of both
// tensors (they have the same shape), so that SSIM's planes are the images'
// y–x planes whatever the file's axis order.
func yxLast(truth, pred *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor) {
	y, x := slices.Index(truth.Axes, "y"), slices.Index(truth.Axes, "x")
	n := len(truth.Shape)
	if y < 0 || x < 0 || (y == n-2 && x == n-1) {
		return truth, pred
	}
	var perm []int
	for i := range n {
		if i != y && i != x {
			perm = append(perm, i)
		}
	}
	perm = append(perm, y, x)
	t, err1 := truth.Transpose(perm)
	p, err2 := pred.Transpose(perm)
	if err1 != nil || err2 != nil {
		return truth, pred
	}
	return t, p
}

// Floats returns the elements of t as float64 (a new slice), or an error
// naming the first NaN or ±Inf and how many there are.
func Floats(t *tensor.Tensor) ([]float64, error) {
	n := t.Len()
	out := make([]float64, n)
	switch t.DType {
	case tensor.Float64:
		copy(out, t.Float64s())
	case tensor.Float32:
		for i, v := range t.Float32s() {
			out[i] = float64(v)
		}
	case tensor.Uint8, tensor.Bool:
		for i, v := range t.Data {
			out[i] = float64(v)
		}
	case tensor.Uint16:
		for i, v := range t.Uint16s() {
			out[i] = float64(v)
		}
	default:
		for i := range out {
			out[i] = t.Float64At(i)
		}
	}
	if !t.DType.IsFloat() {
		return out, nil
	}
	first, bad := -1, 0
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if first < 0 {
				first = i
			}
			bad++
		}
	}
	if bad > 0 {
		msg := fmt.Sprintf("has %v at index %s", out[first], Position(t.Shape, first))
		if bad > 1 {
			msg += fmt.Sprintf(" (%d non-finite values in all)", bad)
		}
		return nil, fmt.Errorf("%s; every value must be a finite number", msg)
	}
	return out, nil
}

// Labels returns the elements of a label image t as int64, or an error
// naming the first element that is not a non-negative whole number (a
// fraction, NaN, a negative value, a uint64 above 2⁶³−1).
func Labels(t *tensor.Tensor) ([]int64, error) {
	n := t.Len()
	out := make([]int64, n)
	bad := func(i int, why string) error {
		return fmt.Errorf("is not a label image: the value at index %s %s; label images hold whole numbers ≥ 0 (0 = background, one value per instance)", Position(t.Shape, i), why)
	}
	switch t.DType {
	case tensor.Uint8, tensor.Bool:
		for i, v := range t.Data {
			out[i] = int64(v)
		}
		return out, nil
	case tensor.Uint16:
		for i, v := range t.Uint16s() {
			out[i] = int64(v)
		}
		return out, nil
	case tensor.Int32:
		for i, v := range t.Int32s() {
			if v < 0 {
				return nil, bad(i, fmt.Sprintf("is %d", v))
			}
			out[i] = int64(v)
		}
		return out, nil
	case tensor.Int64:
		for i, v := range t.Int64s() {
			if v < 0 {
				return nil, bad(i, fmt.Sprintf("is %d", v))
			}
			out[i] = v
		}
		return out, nil
	case tensor.Uint64:
		for i := range n {
			v := binary.LittleEndian.Uint64(t.Data[8*i:])
			if v > math.MaxInt64 {
				return nil, bad(i, fmt.Sprintf("is %d, above 2⁶³−1", v))
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	for i := range n {
		v := t.Float64At(i)
		switch {
		case math.IsNaN(v):
			return nil, bad(i, "is NaN")
		case v < 0:
			return nil, bad(i, fmt.Sprintf("is %v", v))
		case v != math.Trunc(v) || v >= 1<<63:
			return nil, bad(i, fmt.Sprintf("is %v, not a whole number", v))
		}
		out[i] = int64(v)
	}
	return out, nil
}

// Position spells flat C-order index i of shape as a numpy index, "(2, 5)".
func Position(shape []int, i int) string {
	idx := make([]string, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		d := max(shape[k], 1)
		idx[k] = strconv.Itoa(i % d)
		i /= d
	}
	if len(idx) == 1 {
		return "(" + idx[0] + ",)"
	}
	return "(" + strings.Join(idx, ", ") + ")"
}

// MarshalValue writes a metric value as JSON: a number, or the strings
// "Infinity" / "-Infinity" for ±Inf (PSNR of identical images) and "NaN"
// for NaN, which JSON numbers cannot hold.
func MarshalValue(v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`)
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`)
	case math.IsNaN(v):
		return []byte(`"NaN"`)
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64)
}

// Value is a metric value that marshals to JSON with MarshalValue.
type Value float64

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) { return MarshalValue(float64(v)), nil }
