package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/score"
)

func newScoreCmd() *cobra.Command {
	var metric, truthPath, predPath string
	var threshold, dataRange float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "score --metric NAME --truth FILE --prediction FILE [--threshold T] [--data-range R] [--json]",
		Short: "Score a prediction against a ground truth (PSNR, SSIM, IoU, AP, PQ, …)",
		Long: `score computes one challenge metric of a prediction against its ground truth.
FILE is a .npy or .tif/.tiff file (.png is read too); both must have the same
shape.

Image restoration (intensities, any dtype, no NaN or ±Inf):
  psnr     10·log10(L²/MSE) in dB; +Inf when the images are equal
  si-psnr  scale-invariant PSNR (careamics): the truth standardised, the
           prediction centred and scaled by least squares, L/std(truth)
  ssim     scikit-image's structural_similarity defaults: 7×7 uniform
           window, sample covariance, K1 = 0.01, K2 = 0.03, mean without the
           3-pixel border; images with more than two axes are scored per
           2-D (y, x) plane and averaged
  mse, mae mean squared / absolute error
L, the data range, is the ground truth's max − min unless --data-range gives it.

Segmentation (label images: whole numbers ≥ 0, 0 = background):
  iou, dice  of the foregrounds (label > 0)
  f1, ap     instances matched one-to-one (Hungarian) at IoU ≥ --threshold
             (default 0.5); ap = TP/(TP+FP+FN) as in StarDist, cellpose and
             the DSB 2018 (not COCO's AP)
  mean-ap    ap averaged over IoU 0.50, 0.55, …, 0.95
  pq         panoptic quality, matching at IoU > 0.5
When neither image has an instance, segmentation metrics are 1.

Output: "METRIC: VALUE" or, with --json, {"metric": NAME, "value": VALUE};
an infinite value (PSNR of identical images) is the JSON string "Infinity".

Exit code: 0 with a score; 1 when an input cannot be scored (unreadable,
shapes differ, NaN, not a label image, constant ground truth without
--data-range); 2 on usage errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if metric == "" || truthPath == "" || predPath == "" {
				return usageErr("score needs --metric, --truth and --prediction\nRun 'zoo score --help' for usage.")
			}
			m, err := score.ParseMetric(metric)
			if err != nil {
				return usageErr("--metric: %s", err)
			}
			var opt score.Options
			if cmd.Flags().Changed("threshold") {
				if !m.TakesThreshold() {
					return usageErr("--threshold: %s takes no IoU threshold (only f1 and ap do)", m)
				}
				if !(threshold > 0 && threshold <= 1) {
					return usageErr("--threshold %v: use an IoU in (0, 1]", threshold)
				}
				opt.Threshold = threshold
			}
			if cmd.Flags().Changed("data-range") {
				if !m.TakesDataRange() {
					return usageErr("--data-range: %s takes no data range (only psnr, si-psnr and ssim do)", m)
				}
				if !(dataRange > 0 && !math.IsInf(dataRange, 1)) {
					return usageErr("--data-range %v: use a positive number", dataRange)
				}
				opt.DataRange = dataRange
			}
			if err := opt.Check(m); err != nil {
				return usageErr("%s", err)
			}
			for _, p := range []string{truthPath, predPath} {
				if runner.ImageFormat(p) == "" {
					return usageErr("%s: zoo score reads .npy and .tif/.tiff files (and .png)", p)
				}
			}
			truth, err := runner.ReadImage(truthPath)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("truth %s: cannot read it: %w", truthPath, err)}
			}
			pred, err := runner.ReadImage(predPath)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("prediction %s: cannot read it: %w", predPath, err)}
			}
			v, err := score.Compute(m, truth, pred, opt)
			if err != nil {
				var ie *score.InputError
				if errors.As(err, &ie) {
					file := predPath
					if ie.Input == score.Truth {
						file = truthPath
					}
					return &exitError{code: 1, err: fmt.Errorf("%s %s: %s", ie.Input, file, ie.Reason)}
				}
				return &exitError{code: 1, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				fmt.Fprintf(out, "{\"metric\":%q,\"value\":%s}\n", m, score.MarshalValue(v))
				return nil
			}
			fmt.Fprintln(out, scoreLine(m, opt, v))
			return nil
		},
	}
	cmd.Flags().StringVar(&metric, "metric", "", "psnr, si-psnr, ssim, mse, mae, iou, dice, f1, ap, mean-ap or pq")
	cmd.Flags().StringVar(&truthPath, "truth", "", "the ground truth (.npy or .tif)")
	cmd.Flags().StringVar(&predPath, "prediction", "", "the prediction (.npy or .tif), same shape")
	cmd.Flags().Float64Var(&threshold, "threshold", score.DefaultThreshold, "IoU threshold of f1 and ap")
	cmd.Flags().Float64Var(&dataRange, "data-range", 0, "data range L of psnr, si-psnr and ssim (default: the truth's max − min)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"metric": NAME, "value": VALUE}`)
	return cmd
}

// scoreLine is the readable form: "psnr: 26.6761 dB", "ap (IoU ≥ 0.5): 0.75".
func scoreLine(m score.Metric, opt score.Options, v float64) string {
	name := string(m)
	if m.TakesThreshold() {
		tau := opt.Threshold
		if tau == 0 {
			tau = score.DefaultThreshold
		}
		name += " (IoU ≥ " + strconv.FormatFloat(tau, 'g', -1, 64) + ")"
	}
	text := strconv.FormatFloat(v, 'g', 6, 64)
	if math.IsInf(v, 1) {
		text = "+Inf"
	}
	if u := m.Unit(); u != "" {
		text += " " + u
	}
	if math.IsInf(v, 1) {
		text += " (the prediction equals the ground truth)"
	}
	return name + ": " + text
}
