package score

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func totalCost(cost [][]float64, a []int) float64 {
	s := 0.0
	for i, j := range a {
		if j >= 0 {
			s += cost[i][j]
		}
	}
	return s
}

// bruteForce returns the least total cost over all assignments of
// min(n, m) pairs (every injective map of the smaller side).
func bruteForce(cost [][]float64) float64 {
	n, m := len(cost), len(cost[0])
	best := math.Inf(1)
	used := make([]bool, max(n, m))
	var rec func(k int, s float64)
	if n <= m {
		// Rows choose distinct columns.
		rec = func(i int, s float64) {
			if i == n {
				best = min(best, s)
				return
			}
			for j := range m {
				if !used[j] {
					used[j] = true
					rec(i+1, s+cost[i][j])
					used[j] = false
				}
			}
		}
	} else {
		rec = func(j int, s float64) {
			if j == m {
				best = min(best, s)
				return
			}
			for i := range n {
				if !used[i] {
					used[i] = true
					rec(j+1, s+cost[i][j])
					used[i] = false
				}
			}
		}
	}
	rec(0, 0)
	return best
}

func checkAssignment(t *testing.T, cost [][]float64, a []int) {
	t.Helper()
	n, m := len(cost), len(cost[0])
	if len(a) != n {
		t.Fatalf("%d rows, %d answers", n, len(a))
	}
	seen := map[int]bool{}
	pairs := 0
	for _, j := range a {
		if j < 0 {
			continue
		}
		if j >= m || seen[j] {
			t.Fatalf("assignment %v reuses or leaves the columns", a)
		}
		seen[j] = true
		pairs++
	}
	if pairs != min(n, m) {
		t.Fatalf("assignment %v has %d pairs, want %d", a, pairs, min(n, m))
	}
}

func TestAssignSciPyExample(t *testing.T) {
	// scipy.optimize.linear_sum_assignment's documented example:
	// rows → columns [1 0 2], total 1 + 2 + 2 = 5.
	cost := [][]float64{{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}
	a := Assign(cost)
	if !slices.Equal(a, []int{1, 0, 2}) || totalCost(cost, a) != 5 {
		t.Errorf("Assign = %v (cost %v), want [1 0 2] (5)", a, totalCost(cost, a))
	}
}

func TestAssignByHand(t *testing.T) {
	// Greedy (row 0 takes its cheapest, 1) is wrong here: then row 1 pays
	// 100. Optimal: 0→1 (2), 1→0 (3): 5 < 1 + 100.
	cost := [][]float64{{1, 2}, {3, 100}}
	if a := Assign(cost); !slices.Equal(a, []int{1, 0}) {
		t.Errorf("Assign = %v", a)
	}
	// 3 rows, 1 column: the cheapest row gets it.
	if a := Assign([][]float64{{5}, {-1}, {2}}); !slices.Equal(a, []int{-1, 0, -1}) {
		t.Errorf("Assign tall = %v", a)
	}
	// 1 row, 3 columns.
	if a := Assign([][]float64{{5, -1, 2}}); !slices.Equal(a, []int{1}) {
		t.Errorf("Assign wide = %v", a)
	}
	if a := Assign(nil); a != nil {
		t.Errorf("Assign(nil) = %v", a)
	}
}

func TestAssignAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 3000 {
		n, m := 1+rng.IntN(6), 1+rng.IntN(6)
		cost := make([][]float64, n)
		for i := range cost {
			cost[i] = make([]float64, m)
			for j := range cost[i] {
				switch trial % 3 {
				case 0: // continuous
					cost[i][j] = rng.NormFloat64() * 10
				case 1: // few distinct values: many ties
					cost[i][j] = float64(rng.IntN(3))
				default: // StarDist-like: −[IoU ≥ τ] − IoU/(2k), mostly zeros
					if rng.IntN(2) == 0 {
						iou := rng.Float64()
						cost[i][j] = -iou / (2 * float64(min(n, m)))
						if iou >= 0.5 {
							cost[i][j]--
						}
					}
				}
			}
		}
		a := Assign(cost)
		checkAssignment(t, cost, a)
		if got, want := totalCost(cost, a), bruteForce(cost); math.Abs(got-want) > 1e-9 {
			t.Fatalf("trial %d: %v: cost %v, brute force %v", trial, cost, got, want)
		}
	}
}

func TestAssignLarge(t *testing.T) {
	// A permutation matrix of zeros in ones: the optimum is 0 and unique.
	rng := rand.New(rand.NewPCG(9, 10))
	n := 300
	perm := rng.Perm(n)
	cost := make([][]float64, n)
	for i := range cost {
		cost[i] = make([]float64, n)
		for j := range cost[i] {
			cost[i][j] = 1 + rng.Float64()
		}
		cost[i][perm[i]] = 0
	}
	if a := Assign(cost); !slices.Equal(a, perm) {
		t.Error("did not find the zero permutation")
	}
}

func TestAssignSparseAgainstDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for range 500 {
		n := 1 + rng.IntN(8)
		m := n + rng.IntN(4)
		cost := make([][]float64, n)
		arcs := make([][]arc, n)
		for i := range cost {
			cost[i] = make([]float64, m)
			for j := range cost[i] {
				cost[i][j] = math.Round(rng.NormFloat64()*4) / 2 // ties
				arcs[i] = append(arcs[i], arc{j, cost[i][j]})
			}
		}
		a := assignSparse(arcs, m)
		checkAssignment(t, cost, a)
		if got, want := totalCost(cost, a), totalCost(cost, Assign(cost)); math.Abs(got-want) > 1e-9 {
			t.Fatalf("%v: sparse %v, dense %v", cost, got, want)
		}
	}
}
