"""Reference values for score's tests (score/reference_test.go).

Run with scikit-image, SciPy and NumPy installed (Debian bookworm's
python3-skimage 0.19.3, python3-scipy 1.10.1, python3-numpy 1.24.2 were used):

    python3 score/testdata/reference.py

The arrays are built from integer formulas that reference_test.go repeats,
so no data files are needed. SI-PSNR follows careamics' scale_invariant_psnr;
the matching follows StarDist's matching.py (relabel, IoU table, SciPy's
linear_sum_assignment on the cost -[IoU >= t] - IoU/(2 n_min)).
"""
import numpy as np
from scipy.optimize import linear_sum_assignment
from skimage.metrics import (mean_squared_error, peak_signal_noise_ratio,
                             structural_similarity)


def pair_a():
    i, j = np.mgrid[0:32, 0:40]
    truth = ((i * 37 + j * 91 + (i * j) % 13) % 256).astype(np.float64)
    pred = truth + ((i * 7919 + j * 104729) % 41 - 20)
    return truth, pred


def pair_b():
    k, i, j = np.mgrid[0:3, 0:16, 0:20]
    truth = ((k * 53 + i * 37 + j * 91 + (i * j * (k + 1)) % 17) % 200).astype(np.float64)
    pred = truth * 0.8 + ((k * 31 + i * 7919 + j * 104729) % 23 - 11)
    return truth, pred


def pair_c():
    i, j = np.mgrid[0:32, 0:40]
    truth, _ = pair_a()
    pred = ((i * 13 + j * 29 + i * j) % 97) * 2.0
    return truth, pred


def si_psnr(gt, pred):  # careamics.utils.metrics.scale_invariant_psnr
    rng = (np.max(gt) - np.min(gt)) / np.std(gt)
    gt_ = (gt - gt.mean()) / np.std(gt)
    x = pred - pred.mean()
    g = gt_ - gt_.mean()
    a = (g * x).sum() / (x * x).sum()
    return peak_signal_noise_ratio(g, x * a, data_range=rng)


def paint(shape, rects):
    y = np.zeros(shape, np.int64)
    for lab, r0, r1, c0, c1 in rects:
        y[r0:r1, c0:c1] = lab
    return y


TRUTH_RECTS = [
    (1, 2, 12, 2, 12), (2, 2, 12, 20, 30), (3, 20, 30, 2, 12), (4, 20, 30, 20, 34),
    (5, 40, 50, 40, 50), (6, 55, 60, 5, 15), (7, 40, 60, 20, 30),
    (8, 2, 8, 40, 46), (9, 2, 8, 47, 53),
]
PRED_RECTS = [
    (10, 3, 12, 2, 12), (11, 2, 12, 22, 32), (12, 20, 30, 5, 12),
    (13, 20, 30, 20, 27), (14, 20, 30, 27, 34), (15, 42, 52, 42, 52),
    (16, 40, 50, 20, 30), (17, 49, 60, 20, 30), (18, 0, 4, 50, 60),
    (19, 2, 8, 40, 53),
]


def stardist_matching(y_true, y_pred, thr):
    _, t = np.unique(y_true, return_inverse=True)
    _, p = np.unique(y_pred, return_inverse=True)
    t, p = t.reshape(-1), p.reshape(-1)
    ov = np.zeros((t.max() + 1, p.max() + 1))
    np.add.at(ov, (t, p), 1)
    iou = ov / (ov.sum(0, keepdims=True) + ov.sum(1, keepdims=True) - ov)
    s = iou[1:, 1:]
    n_true, n_pred = s.shape
    n_min = min(n_true, n_pred)
    tp, summed = 0, 0.0
    if n_min > 0 and np.any(s >= thr):
        r, c = linear_sum_assignment(-(s >= thr).astype(float) - s / (2 * n_min))
        ok = s[r, c] >= thr
        tp, summed = int(ok.sum()), float(s[r, c][ok].sum())
    return tp, n_pred - tp, n_true - tp, summed


def main():
    t, p = pair_a()
    L = t.max() - t.min()
    print("pair A: data range", L)
    print("  mse     %.17g" % mean_squared_error(t, p))
    print("  mae     %.17g" % np.mean(np.abs(t - p)))
    print("  psnr    %.17g" % peak_signal_noise_ratio(t, p, data_range=L))
    print("  si-psnr %.17g" % si_psnr(t, p))
    print("  ssim    %.17g" % structural_similarity(t, p, data_range=L))
    print("  ssim L=255 %.17g" % structural_similarity(t, p, data_range=255))
    t, p = pair_c()
    L = t.max() - t.min()
    print("pair C:")
    print("  ssim    %.17g" % structural_similarity(t, p, data_range=L))
    print("  si-psnr %.17g" % si_psnr(t, p))
    t, p = pair_b()
    L = t.max() - t.min()
    per_plane = np.mean([structural_similarity(t[k], p[k], data_range=L) for k in range(3)])
    print("pair B: data range", L)
    print("  ssim per plane %.17g" % per_plane)
    print("  psnr    %.17g" % peak_signal_noise_ratio(t, p, data_range=L))
    yt, yp = paint((64, 64), TRUTH_RECTS), paint((64, 64), PRED_RECTS)
    fg_t, fg_p = yt > 0, yp > 0
    print("labels: iou %.17g dice %.17g" % ((fg_t & fg_p).sum() / (fg_t | fg_p).sum(),
                                              2 * (fg_t & fg_p).sum() / (fg_t.sum() + fg_p.sum())))
    aps = []
    for k in range(10):
        thr = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95][k]
        tp, fp, fn, summed = stardist_matching(yt, yp, thr)
        aps.append(tp / (tp + fp + fn))
        print("  t=%.2f tp=%d fp=%d fn=%d sum_iou=%.17g" % (thr, tp, fp, fn, summed))
    print("  mean ap %.17g" % np.mean(aps))
    tp, fp, fn, summed = stardist_matching(yt, yp, np.nextafter(0.5, 1))
    print("  pq (IoU > 0.5) tp=%d fp=%d fn=%d pq=%.17g" % (tp, fp, fn, summed / (tp + fp / 2 + fn / 2)))


main()
