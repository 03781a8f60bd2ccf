package challenge

import (
	"math"
	"sort"
)

// CompetitionRanks returns the "1224" ranks of values: rank 1 for the
// best, equal values share a rank, and the rank after a tie of k values
// skips k−1 ranks ([0.9, 0.8, 0.8, 0.7] → [1, 2, 2, 4]). NaN (a missing score) ranks after every number.
func CompetitionRanks(values []float64, higherIsBetter bool) []int {
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	key := func(v float64) float64 {
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		if higherIsBetter {
			return -v
		}
		return v
	}
	sort.SliceStable(idx, func(a, b int) bool { return key(values[idx[a]]) < key(values[idx[b]]) })
	ranks := make([]int, len(values))
	for pos, i := range idx {
		if pos > 0 && key(values[i]) == key(values[idx[pos-1]]) {
			ranks[i] = ranks[idx[pos-1]]
		} else {
			ranks[i] = pos + 1
		}
	}
	return ranks
}

// Row is one ranked submission of a leaderboard.
type Row struct {
	Rank       int            `json:"rank"`
	MeanRank   float64        `json:"mean_rank,omitempty"` // mean-rank ranking only
	Ranks      map[string]int `json:"ranks"`               // by metric key, among the ranked rows
	Submission *Submission    `json:"submission"`
}

// Rank ranks submissions (all scored) by c's rule and returns them best
// first; rows with equal ranks keep the order of subs (oldest first).
func Rank(c *Challenge, subs []*Submission) []Row {
	n := len(subs)
	rows := make([]Row, n)
	for i, s := range subs {
		rows[i] = Row{Submission: s, Ranks: map[string]int{}}
	}
	if n == 0 || len(c.Metrics) == 0 {
		return rows
	}
	mean := make([]float64, n)
	for _, m := range c.Metrics {
		vals := make([]float64, n)
		for i, s := range subs {
			v, ok := s.Scores[m.Key()]
			if !ok {
				vals[i] = math.NaN()
			} else {
				vals[i] = float64(v)
			}
		}
		r := CompetitionRanks(vals, m.Name.HigherIsBetter())
		for i := range rows {
			rows[i].Ranks[m.Key()] = r[i]
			mean[i] += float64(r[i]) / float64(len(c.Metrics))
		}
	}
	var final []int
	if c.Ranking == RankMeanRank {
		final = CompetitionRanks(mean, false)
		for i := range rows {
			rows[i].MeanRank = mean[i]
		}
	} else {
		final = make([]int, n)
		for i := range rows {
			final[i] = rows[i].Ranks[c.Metrics[0].Key()]
		}
	}
	for i := range rows {
		rows[i].Rank = final[i]
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].Rank < rows[b].Rank })
	return rows
}

// Leaderboard ranks the scored submissions of one phase (withdrawn and
// disqualified ones are left out: Submission.Ranked) and keeps each
// participant's best (best rank among all the phase's scored submissions,
// the earliest among equals), then ranks those again. subs are oldest
// first.
func Leaderboard(c *Challenge, phase string, subs []*Submission) []Row {
	var scored []*Submission
	for _, s := range subs {
		if s.Phase == phase && s.Ranked() {
			scored = append(scored, s)
		}
	}
	best := map[int64]bool{}
	var keep []*Submission
	for _, r := range Rank(c, scored) { // best first, oldest first among equals
		if !best[r.Submission.UserID] {
			best[r.Submission.UserID] = true
			keep = append(keep, r.Submission)
		}
	}
	sort.SliceStable(keep, func(a, b int) bool { return keep[a].ID < keep[b].ID })
	return Rank(c, keep)
}
