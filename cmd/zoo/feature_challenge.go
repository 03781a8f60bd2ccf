package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/challenge/platform"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/web"
)

// The challenge platform (package challenge): API and pages under
// /api/v1/challenges and /challenges, the "challenge-eval" jobs, and an
// example challenge seeded by zoo serve --seed.
func init() {
	register(feature{
		name: "challenges",
		handlers: func(env *serverEnv) map[string]queue.Handler {
			return map[string]queue.Handler{
				challenge.JobEval: func(ctx context.Context, job *queue.Job) error {
					svc, err := challengeService(env)
					if err != nil {
						return err
					}
					var args challenge.EvalArgs
					if err := json.Unmarshal(job.Args, &args); err != nil {
						return queue.Cancel(err)
					}
					return svc.Evaluate(ctx, args.Submission)
				},
			}
		},
		routes: func(env *serverEnv) ([]web.Route, error) {
			svc, err := challengeService(env)
			if err != nil {
				return nil, nil // a catalog without challenge storage: no routes
			}
			h := &platform.Handler{Svc: svc}
			if m := sessionManager(env); m != nil {
				h.CSRF = m // the submission page's forms
			}
			return h.Routes(), nil
		},
		start: func(env *serverEnv) error {
			if env.seed == "" || !env.serve {
				return nil
			}
			return seedChallenge(env)
		},
	})
}

// challengeService is the platform service on env's catalog.
func challengeService(env *serverEnv) (*platform.Service, error) {
	st, ok := env.st.cat.(interface{ Challenges() challenge.Store })
	if !ok {
		return nil, zoo.E("challenges", zoo.NotSupported, nil, "this catalog has no challenge storage")
	}
	hosted, err := modelHost()
	if err != nil {
		return nil, err
	}
	svc := &platform.Service{Store: st.Challenges(), Repo: env.svc, TempDir: env.st.tempDir, Open: hosted.Open}
	if env.queue != nil {
		svc.Queue = env.queue
	}
	return svc, nil
}

// The example challenge's slug and its participants.
const seedChallengeSlug = "nuclei-demo"

// seedChallenge creates, on an instance without challenges, an example
// built from the nuclei package of the seed folder: hidden inputs are its
// test input and that input flipped upside down, ground truth the
// package's test output (flipped alike); the public data is the
// left-right flipped pair. Two participants submit noisy copies of the
// truth and the seeded nuclei model is submitted too, all scored here
// before the server listens, so the leaderboard is live at once.
func seedChallenge(env *serverEnv) error {
	ctx := env.ctx
	svc, err := challengeService(env)
	if err != nil {
		return nil
	}
	existing, err := svc.Store.Challenges(ctx)
	if err != nil || len(existing) > 0 {
		return err
	}
	dir := filepath.Join(env.seed, "unet2d-nuclei-broad-onnx")
	in, err := npy.ReadFile(filepath.Join(dir, "test_input.npy"))
	if err != nil {
		env.log.Info("no example challenge: the nuclei package is not in the seed folder", "dir", dir)
		return nil
	}
	out, err := npy.ReadFile(filepath.Join(dir, "test_output.npy"))
	if err != nil {
		return err
	}
	enc := func(t *tensor.Tensor) []byte {
		var b bytes.Buffer
		npy.Write(&b, t)
		return b.Bytes()
	}
	cat := env.st.cat
	organiser, err := ensureUser(ctx, cat, seedReviewer, zoo.RoleReviewer)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Minute)
	c := &challenge.Challenge{
		Slug:  seedChallengeSlug,
		Title: "Nuclei segmentation (example)",
		Description: "An example challenge seeded from zoo's fixtures: predict the **nuclei probability map** of two fluorescence images.\n\n" +
			"- Public data: one training pair, `train_input_01.npy` and its target `train_truth_01.npy`.\n" +
			"- Hidden test inputs: `img01.npy` and `img02.npy` (shape 1×1×512×512, float32). Their ground truth stays on the server.\n\n" +
			"Submit a zip with `img01.npy` and `img02.npy` (or `.tif`), or a published model `ID/N`.",
		Leaderboard: challenge.LeaderboardPublic,
		Ranking:     challenge.RankMeanRank,
		Metrics:     []challenge.Metric{{Name: score.MetricPSNR}, {Name: score.MetricSSIM}},
		Phases:      []challenge.Phase{{Name: "final", OpensAt: now.Add(-7 * 24 * time.Hour), ClosesAt: now.Add(90 * 24 * time.Hour), PerDay: 5, Total: 50}},
	}
	files := []platform.NewFile{
		{Kind: challenge.Public, Name: "train_input_01.npy", Data: enc(flip(in, false))},
		{Kind: challenge.Public, Name: "train_truth_01.npy", Data: enc(flip(out, false))},
		{Kind: challenge.Input, Name: "img01.npy", Data: enc(in)},
		{Kind: challenge.Input, Name: "img02.npy", Data: enc(flip(in, true))},
		{Kind: challenge.Truth, Name: "img01.npy", Data: enc(out)},
		{Kind: challenge.Truth, Name: "img02.npy", Data: enc(flip(out, true))},
	}
	if err := svc.Create(ctx, organiser, c, files); err != nil {
		return err
	}
	// Score here, before the server listens.
	svc.Queue = nil
	at := now.Add(-6 * 24 * time.Hour)
	svc.Now = func() time.Time { return at }
	submit := func(user string, zipData []byte, model string) {
		u, err := ensureUser(ctx, cat, user, zoo.RoleContributor)
		if err == nil {
			_, err = svc.Submit(ctx, u, c.Slug, "final", zipData, model)
		}
		if err != nil {
			env.log.Warn("example challenge: a seeded submission failed", "user", user, "err", zoo.MessageOf(err))
		}
		at = at.Add(26 * time.Hour)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range []struct {
		user  string
		sigma float64
	}{{"alice-demo", 0.2}, {"bob-demo", 0.08}, {"alice-demo", 0.05}, {"carol-demo", 0.08}} {
		z, err := seedZip(map[string]*tensor.Tensor{
			"img01.npy": noisy(out, p.sigma, rng),
			"img02.npy": noisy(flip(out, true), p.sigma, rng),
		})
		if err != nil {
			return err
		}
		submit(p.user, z, "")
	}
	if ref := seededNucleiModel(ctx, env); ref != "" {
		submit(seedContributor, nil, ref)
	}
	env.log.Info("seeded the example challenge", "page", "/challenges/"+seedChallengeSlug)
	return nil
}

// seededNucleiModel is "ID/N" of the published nuclei example model, or "".
func seededNucleiModel(ctx context.Context, env *serverEnv) string {
	models, err := env.st.cat.ListModels(ctx, true)
	if err != nil {
		return ""
	}
	for _, m := range models {
		v, err := env.st.cat.LatestPublished(ctx, m.ID)
		if err == nil && strings.Contains(strings.ToLower(v.Name), "nuclei") {
			return fmt.Sprintf("%s/%d", v.ModelID, v.Number)
		}
	}
	return ""
}

// flip mirrors a float32 (…, y, x) tensor along y (upDown) or x.
func flip(t *tensor.Tensor, upDown bool) *tensor.Tensor {
	out := t.Clone()
	h, w := t.Shape[len(t.Shape)-2], t.Shape[len(t.Shape)-1]
	src, dst := t.Float32s(), out.Float32s()
	for p := 0; p < len(src)/(h*w); p++ {
		for y := range h {
			for x := range w {
				sy, sx := y, w-1-x
				if upDown {
					sy, sx = h-1-y, x
				}
				dst[p*h*w+y*w+x] = src[p*h*w+sy*w+sx]
			}
		}
	}
	return out
}

// noisy adds Gaussian noise of standard deviation sigma.
func noisy(t *tensor.Tensor, sigma float64, rng *rand.Rand) *tensor.Tensor {
	out := t.Clone()
	for i, v := range out.Float32s() {
		out.Float32s()[i] = v + float32(rng.NormFloat64()*sigma)
	}
	return out
}

// seedZip writes one .npy per name.
func seedZip(preds map[string]*tensor.Tensor) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"img01.npy", "img02.npy"} {
		w, err := zw.Create(name)
		if err != nil {
			return nil, err
		}
		if err := npy.Write(w, preds[name]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
