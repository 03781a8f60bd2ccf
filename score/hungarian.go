package score

import "math"

// Assign solves the linear assignment problem on an n×m cost matrix (rows
// of equal length, finite costs) with the Hungarian algorithm (Kuhn–Munkres
// with potentials, O(n²m) for n ≤ m): it returns, for each row, the column
// assigned to it (-1 for a row left over when n > m), such that every
// column is used at most once, min(n, m) pairs are assigned, and the sum of
// their costs is the least possible. It is what
// scipy.optimize.linear_sum_assignment computes; ties may be broken
// differently.
func Assign(cost [][]float64) []int {
	n := len(cost)
	if n == 0 {
		return nil
	}
	m := len(cost[0])
	if n <= m {
		return assign(n, m, func(i, j int) float64 { return cost[i][j] })
	}
	// More rows than columns: assign the columns to rows and invert.
	byCol := assign(m, n, func(i, j int) float64 { return cost[j][i] })
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	for j, i := range byCol {
		out[i] = j
	}
	return out
}

// assign is the shortest-augmenting-path Hungarian algorithm for n ≤ m:
// row i is added at a time and matched along a path of least reduced cost
// found with Dijkstra-like steps over the columns; the potentials u, v keep
// every reduced cost c(i,j) − u(i) − v(j) non-negative. Indices are
// 1-based inside; column 0 is the virtual start of each path.
func assign(n, m int, c func(i, j int) float64) []int {
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1)   // p[j]: row matched to column j, 0 = none
	way := make([]int, m+1) // previous column on the path to j
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			delta := math.Inf(1)
			j1 := 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				cur := c(i0-1, j-1) - u[i0] - v[j]
				if cur < minv[j] {
					minv[j] = cur
					way[j] = j0
				}
				if minv[j] < delta {
					delta = minv[j]
					j1 = j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		// Flip the augmenting path.
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	out := make([]int, n)
	for j := 1; j <= m; j++ {
		if p[j] != 0 {
			out[p[j]-1] = j - 1
		}
	}
	return out
}
