// Package score computes the metrics of zoo's challenges: how close a
// prediction is to a ground truth. Every function is pure (no I/O, no
// global state) and deterministic; each one's formula is in its doc
// comment. Compute applies a named Metric to two tensors and checks them
// first (shapes, NaN, label values), returning an *InputError that says
// which input is wrong and why.
//
// # Image restoration (denoising) metrics
//
// With truth t, prediction p, N elements and the data range L:
//
//	MSE  = (1/N) Σ (tᵢ − pᵢ)²
//	MAE  = (1/N) Σ |tᵢ − pᵢ|
//	PSNR = 10 · log10(L² / MSE)                      (dB; +Inf when MSE = 0)
//	L    = max(t) − min(t) unless given              (microscopy convention, AI4Life MDC24)
//
// SI-PSNR (scale-invariant PSNR, careamics' scale_invariant_psnr):
//
//	t′ = (t − mean(t)) / std(t)           std is the population std (numpy)
//	q  = p − mean(p)
//	a  = Σ t′ᵢqᵢ / Σ qᵢ²                  least-squares scale; a = 0 when q = 0
//	SI-PSNR = PSNR(t′, a·q) with L′ = (max(t) − min(t)) / std(t)  (or L / std(t) when L is given)
//
// SSIM is scikit-image's structural_similarity with its defaults: a 7×7
// uniform window, sample covariance (factor NP/(NP−1), NP = 49), K1 = 0.01,
// K2 = 0.03, and the mean of the SSIM map without the 3-pixel border (only
// windows that lie wholly inside the image). Over each window:
//
//	μx, μy = window means; σx², σy², σxy = (49/48)·(window mean of x², y², xy − μx², μy², μxμy)
//	C1 = (K1·L)², C2 = (K2·L)²
//	S  = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
//
// Images with more than two dimensions are scored per 2-D plane (the last
// two axes after dropping axes of size 1; Compute moves the y and x axes
// last when the ground truth names them) and the planes' SSIMs are
// averaged, with L taken from the whole ground truth. That is the mean of
// scikit-image's 2-D SSIM over the planes, what a challenge on stacks of 2-D
// images (AI4Life MDC24's image stacks, per-frame scores in CIDC25) means;
// it is not scikit-image's n-D call on the whole array, which would slide a
// 7×7×7 window across independent frames (and refuses axes shorter than 7).
// Values are computed in float64 for every input dtype (scikit-image keeps
// float32 inputs in float32, so on float32 data expect differences around
// 1e-6).
//
// # Segmentation metrics
//
// Label images hold non-negative whole numbers: 0 is background, every
// other value one instance (labels need not be sequential).
//
//	IoU  = |T ∩ P| / |T ∪ P|        on the foregrounds T = {truth > 0}, P = {prediction > 0}
//	Dice = 2|T ∩ P| / (|T| + |P|)
//
// Instances are matched as in StarDist's matching.py and cellpose: for
// true instance i and predicted instance j, IoU(i,j) = |Tᵢ ∩ Pⱼ| /
// (|Tᵢ| + |Pⱼ| − |Tᵢ ∩ Pⱼ|). At a threshold τ the pairs with IoU ≥ τ are
// the candidates; an optimal one-to-one assignment (the Hungarian
// algorithm, Assign) first maximises the number of matched pairs and among
// those the sum of their IoUs. Only overlapping pairs can be candidates, so
// the assignment is solved per connected component of the candidate graph
// (for τ > 0.5 every component is a single pair), by the Hungarian
// algorithm in its shortest-augmenting-path form over the candidate pairs
// only (no rows × columns matrix): label images with thousands of
// instances cost little more than counting the overlaps, even at a low τ
// where touching cells join into one component. Then
//
//	TP = matched pairs, FP = n_pred − TP, FN = n_true − TP
//	precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN)
//	AP = TP/(TP+FP+FN)   ("accuracy" in StarDist, "AP" in cellpose and the DSB 2018; not COCO's AP)
//	mean AP = mean of AP over τ ∈ {0.50, 0.55, …, 0.95}
//	PQ = SQ·RQ, SQ = ΣIoU(matched)/TP, RQ = TP/(TP + FP/2 + FN/2), matching at IoU > 0.5
//
// Panoptic quality (Kirillov et al. 2019) matches at IoU strictly above 0.5,
// where the match is unique; StarDist's panoptic_quality at τ = 0.5 uses ≥.
//
// Empty images: when neither image has an instance (or a foreground pixel)
// there is nothing to find and nothing was found, and every segmentation
// metric is 1. StarDist reports 0 there (its "0 when TP = 0" rule); zoo
// departs from it so that a correct empty prediction is not ranked last.
// Otherwise a ratio with TP = 0 is 0, as in StarDist.
//
// StarDist breaks ties between assignments of equal size by the IoU of all
// assigned pairs, also those below τ; zoo by the IoU of the matched pairs
// only. The counts (and so precision, recall, F1, AP) are the same; the
// matched IoU sum can differ only when two maximum assignments tie, which
// needs IoUs of exactly τ ≤ 0.5.
//
// # Infinity
//
// PSNR of identical images is +Inf. Go's encoding/json cannot write it;
// MarshalValue writes ±Inf as the JSON strings "Infinity" and "-Infinity"
// (what JavaScript's Number(), Python's float() and Go's
// strconv.ParseFloat read back) and every finite value as a JSON number.
package score
