package challenge

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/zoo-bioimage/zoo/score"
)

func TestCompetitionRanks(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		vals   []float64
		higher bool
		want   []int
	}{
		{[]float64{0.9, 0.8, 0.8, 0.7}, true, []int{1, 2, 2, 4}},
		{[]float64{0.7, 0.8, 0.8, 0.9}, true, []int{4, 2, 2, 1}},
		{[]float64{3, 1, 1, 1, 2}, false, []int{5, 1, 1, 1, 4}}, // mse: lower is better
		{[]float64{inf, 30, inf}, true, []int{1, 3, 1}},         // two perfect PSNRs share rank 1
		{[]float64{math.NaN(), 1, 2}, true, []int{3, 2, 1}},     // a missing score ranks last
		{[]float64{5, 5, 5}, true, []int{1, 1, 1}},
		{nil, true, []int{}},
	} {
		got := CompetitionRanks(tc.vals, tc.higher)
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("CompetitionRanks(%v, higher=%v) = %v, want %v", tc.vals, tc.higher, got, tc.want)
		}
	}
}

func sub(id, user int64, scores map[string]Value) *Submission {
	return &Submission{ID: id, UserID: user, Phase: "p", Status: StatusScored, Scores: scores}
}

func ids(rows []Row) (ids []int64, ranks []int) {
	for _, r := range rows {
		ids = append(ids, r.Submission.ID)
		ranks = append(ranks, r.Rank)
	}
	return
}

func TestRankMeanRank(t *testing.T) {
	c := &Challenge{Ranking: RankMeanRank, Metrics: []Metric{{Name: score.MetricPSNR}, {Name: score.MetricMSE}}}
	subs := []*Submission{
		sub(1, 1, map[string]Value{"psnr": 30, "mse": 0.2}),  // ranks 1, 3 → 2
		sub(2, 2, map[string]Value{"psnr": 20, "mse": 0.1}),  // ranks 3, 1 → 2
		sub(3, 3, map[string]Value{"psnr": 25, "mse": 0.15}), // ranks 2, 2 → 2
		sub(4, 4, map[string]Value{"psnr": 10, "mse": 0.3}),  // ranks 4, 4 → 4
	}
	rows := Rank(c, subs)
	gotIDs, gotRanks := ids(rows)
	// Three submissions tie at mean rank 2: all rank 1, the next is 4;
	// tied rows keep submission order.
	if !slices.Equal(gotIDs, []int64{1, 2, 3, 4}) || !slices.Equal(gotRanks, []int{1, 1, 1, 4}) {
		t.Errorf("mean-rank: ids %v ranks %v, want [1 2 3 4] [1 1 1 4]", gotIDs, gotRanks)
	}
	if rows[0].MeanRank != 2 || rows[3].MeanRank != 4 || rows[0].Ranks["mse"] != 3 {
		t.Errorf("rows: %+v", rows)
	}
	c.Ranking = RankMetric // by psnr alone
	gotIDs, gotRanks = ids(Rank(c, subs))
	if !slices.Equal(gotIDs, []int64{1, 3, 2, 4}) || !slices.Equal(gotRanks, []int{1, 2, 3, 4}) {
		t.Errorf("metric: ids %v ranks %v", gotIDs, gotRanks)
	}
	c.Metrics = []Metric{{Name: score.MetricMSE}} // lower is better
	gotIDs, _ = ids(Rank(c, subs))
	if !slices.Equal(gotIDs, []int64{2, 3, 1, 4}) {
		t.Errorf("mse: ids %v", gotIDs)
	}
}

func TestLeaderboardBestPerParticipant(t *testing.T) {
	c := &Challenge{Ranking: RankMetric, Metrics: []Metric{{Name: score.MetricAP, Threshold: 0.5}}}
	k := c.Metrics[0].Key()
	if k != "ap@0.5" {
		t.Fatalf("key %q", k)
	}
	subs := []*Submission{
		sub(1, 1, map[string]Value{k: 0.5}),
		sub(2, 2, map[string]Value{k: 0.7}),
		sub(3, 1, map[string]Value{k: 0.8}), // user 1's best
		sub(4, 2, map[string]Value{k: 0.7}), // ties user 2's earlier one: the earlier stays
		sub(5, 3, map[string]Value{k: 0.8}), // ties user 1's best: shared rank 1
		{ID: 6, UserID: 4, Phase: "p", Status: StatusFailed},
		{ID: 7, UserID: 4, Phase: "other", Status: StatusScored, Scores: map[string]Value{k: 1}},
		{ID: 8, UserID: 5, Phase: "p", Status: StatusQueued},
	}
	gotIDs, gotRanks := ids(Leaderboard(c, "p", subs))
	if !slices.Equal(gotIDs, []int64{3, 5, 2}) || !slices.Equal(gotRanks, []int{1, 1, 3}) {
		t.Errorf("leaderboard ids %v ranks %v, want [3 5 2] [1 1 3]", gotIDs, gotRanks)
	}
}

func TestCheckLimit(t *testing.T) {
	l := Limit{PerDay: 2, Total: 3}
	if CheckLimit("p", l, 1, 1) != nil || CheckLimit("p", l, 2, 2) == nil || CheckLimit("p", l, 3, 0) == nil {
		t.Error("CheckLimit does not enforce 2 per day and 3 in total")
	}
}

// On many values with many ties (past the sizes sort handles by
// insertion), every rank is 1 + the number of strictly better values.
func TestCompetitionRanksBruteForce(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for trial := 0; trial < 50; trial++ {
		vals := make([]float64, 1+r.Intn(300))
		for i := range vals {
			vals[i] = float64(r.Intn(12))
			if r.Intn(20) == 0 {
				vals[i] = math.NaN()
			}
		}
		for _, higher := range []bool{true, false} {
			got := CompetitionRanks(vals, higher)
			for i, v := range vals {
				want := 1
				for _, w := range vals {
					better := !math.IsNaN(w) && (math.IsNaN(v) || (higher && w > v) || (!higher && w < v))
					if better {
						want++
					}
				}
				if got[i] != want {
					t.Fatalf("trial %d higher=%v: value %v at %d has rank %d, want %d", trial, higher, v, i, got[i], want)
				}
			}
		}
	}
}
