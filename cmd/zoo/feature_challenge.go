package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/challenge/platform"
	"github.com/zoo-bioimage/zoo/pages"
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
			var csrf pages.CSRF
			if m := sessionManager(env); m != nil {
				h.CSRF = m // the pages' forms
				csrf = m
			}
			// The challenge pages in the site's layout (header, search,
			// sign-in links), like every other page.
			frame, err := pages.NewFrame(csrf)
			if err != nil {
				return nil, err
			}
			h.Frame = frame.Render
			return h.Routes(), nil
		},
		start: func(env *serverEnv) error {
			if !env.serve {
				return nil
			}
			checkChallenges(env)
			if env.seed == "" {
				return nil
			}
			return seedChallenge(env)
		},
	})
}

// checkChallenges logs, at start-up, every stored challenge whose data
// contract (challenge.CheckContract) does not hold — one created before
// creation checked it — so that its organisers can be told.
func checkChallenges(env *serverEnv) {
	svc, err := challengeService(env)
	if err != nil {
		return
	}
	cs, err := svc.Store.Challenges(env.ctx)
	if err != nil {
		env.log.Warn("challenges: cannot check their data", "err", err)
		return
	}
	for _, c := range cs {
		if err := challenge.CheckContract(c.Files); err != nil {
			env.log.Warn("challenge data contract broken: tell its organisers", "challenge", c.Slug, "problem", zoo.MessageOf(err))
		}
	}
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
// nucleus-segmentation challenge on simulated images whose ground truth is
// known by construction (challenge.SimulateNuclei) — independent of every
// model, as a real challenge's annotations are: one public training pair,
// two test images (inputs published, ground truth hidden). Seeded participants submit two classical
// baselines computed from the inputs alone, and the seeded nuclei model
// (when the seed folder has it) is submitted too, all scored here before
// the server listens, so the leaderboard is live at once.
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
	enc := func(t *tensor.Tensor) []byte {
		var b bytes.Buffer
		npy.Write(&b, t)
		return b.Bytes()
	}
	rng := rand.New(rand.NewPCG(15, 2026)) // the same example on every instance
	var in, truth [3]*tensor.Tensor
	for i := range in {
		in[i], truth[i] = challenge.SimulateNuclei(rng, 512, 512)
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
		Description: "An example challenge: predict the **nuclei probability map** (1 inside a nucleus, 0 outside) of fluorescence images.\n\n" +
			"The images are simulated — nuclei drawn as textured ellipses, blurred by the microscope's point-spread function, under uneven illumination and noise — " +
			"so their ground truth is known exactly and no submitted model has seen it.\n\n" +
			"- Public data: one training pair, `train_input_01.npy` and its target `train_truth_01.npy`.\n" +
			"- Test inputs: `img01.npy` and `img02.npy` (shape 1×1×512×512, float32), linked under Data below. Their ground truth stays on the server.\n\n" +
			"Download the test inputs, predict them (e.g. `zoo predict --model MODEL --input INPUTS --output PREDICTIONS`), and submit a zip with `img01.npy` and `img02.npy` (or `.tif`) with the form below; or submit a published model `ID/N`, which zoo runs on the test inputs.",
		Leaderboard: challenge.LeaderboardPublic,
		Ranking:     challenge.RankMeanRank,
		Metrics:     []challenge.Metric{{Name: score.MetricPSNR, DataRange: 1}, {Name: score.MetricSSIM, DataRange: 1}},
		Phases:      []challenge.Phase{{Name: "final", OpensAt: now.Add(-7 * 24 * time.Hour), ClosesAt: now.Add(90 * 24 * time.Hour), PerDay: 5, Total: 50}},
	}
	files := []platform.NewFile{
		{Kind: challenge.Public, Name: "train_input_01.npy", Data: enc(in[0])},
		{Kind: challenge.Public, Name: "train_truth_01.npy", Data: enc(truth[0])},
		{Kind: challenge.Input, Name: "img01.npy", Data: enc(in[1])},
		{Kind: challenge.Input, Name: "img02.npy", Data: enc(in[2])},
		{Kind: challenge.Truth, Name: "img01.npy", Data: enc(truth[1])},
		{Kind: challenge.Truth, Name: "img02.npy", Data: enc(truth[2])},
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
	for _, p := range []struct {
		user   string
		method func(*tensor.Tensor) *tensor.Tensor
	}{
		{"alice-demo", challenge.BaselineIntensity}, {"bob-demo", challenge.BaselineIntensity},
		{"alice-demo", challenge.BaselineThreshold}, {"carol-demo", challenge.BaselineThreshold},
	} {
		z, err := seedZip(map[string]*tensor.Tensor{"img01.npy": p.method(in[1]), "img02.npy": p.method(in[2])})
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
