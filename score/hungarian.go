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

// arc is an allowed (row, column) pair of a sparse assignment problem.
type arc struct {
	col  int
	cost float64
}

// assignSparse is the same Hungarian algorithm in its shortest augmenting
// path form (Jonker–Volgenant; Crouse 2016, as in SciPy) over a sparse
// cost matrix: rows[i] lists the columns row i may take. It assigns every
// row a distinct column at the least total cost and returns the column of
// each row; the caller guarantees that such an assignment exists (matching
// gives each row a private "unmatched" column). Each added row runs a
// Dijkstra search over alternating paths that touches only the arcs it
// reaches, so the cost follows the arcs explored, not rows × columns.
func assignSparse(rows [][]arc, nCols int) []int {
	n := len(rows)
	inf := math.Inf(1)
	u := make([]float64, n)
	v := make([]float64, nCols)
	col4row := make([]int, n)
	row4col := make([]int, nCols)
	for i := range col4row {
		col4row[i] = -1
	}
	for j := range row4col {
		row4col[j] = -1
	}
	dist := make([]float64, nCols) // shortest path cost to each column in this search
	for j := range dist {
		dist[j] = inf
	}
	path := make([]int, nCols) // row preceding each column on its path
	done := make([]bool, nCols)
	var seenRows, doneCols, touched []int
	var h distHeap
	for cur := range n {
		seenRows, doneCols, touched, h = seenRows[:0], doneCols[:0], touched[:0], h[:0]
		minVal, i, sink := 0.0, cur, -1
		for sink < 0 {
			seenRows = append(seenRows, i)
			for _, a := range rows[i] {
				j := a.col
				if done[j] {
					continue
				}
				if r := minVal + a.cost - u[i] - v[j]; r < dist[j] {
					if dist[j] == inf {
						touched = append(touched, j)
					}
					dist[j], path[j] = r, i
					h.push(distItem{r, j})
				}
			}
			j := -1
			for len(h) > 0 {
				it := h.pop()
				if !done[it.col] && it.d == dist[it.col] {
					j = it.col
					break
				}
			}
			if j < 0 {
				panic("score: assignment has no solution")
			}
			minVal = dist[j]
			done[j] = true
			doneCols = append(doneCols, j)
			if row4col[j] < 0 {
				sink = j
			} else {
				i = row4col[j]
			}
		}
		// Update the potentials so that reduced costs stay ≥ 0 and are 0
		// on the assigned pairs, then flip the path.
		u[cur] += minVal
		for _, i := range seenRows[1:] {
			u[i] += minVal - dist[col4row[i]]
		}
		for _, j := range doneCols {
			v[j] -= minVal - dist[j]
		}
		for j := sink; ; {
			i := path[j]
			row4col[j] = i
			col4row[i], j = j, col4row[i]
			if i == cur {
				break
			}
		}
		for _, j := range touched {
			dist[j] = inf
		}
		for _, j := range doneCols {
			done[j] = false
		}
	}
	return col4row
}

type distItem struct {
	d   float64
	col int
}

// distHeap is a binary min-heap by d (then col, for determinism).
type distHeap []distItem

func (h distItem) less(o distItem) bool { return h.d < o.d || (h.d == o.d && h.col < o.col) }

func (h *distHeap) push(x distItem) {
	*h = append(*h, x)
	s := *h
	for k := len(s) - 1; k > 0; {
		p := (k - 1) / 2
		if !s[k].less(s[p]) {
			break
		}
		s[k], s[p] = s[p], s[k]
		k = p
	}
}

func (h *distHeap) pop() distItem {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for k := 0; ; {
		l, r, m := 2*k+1, 2*k+2, k
		if l < len(s) && s[l].less(s[m]) {
			m = l
		}
		if r < len(s) && s[r].less(s[m]) {
			m = r
		}
		if m == k {
			break
		}
		s[k], s[m] = s[m], s[k]
		k = m
	}
	*h = s
	return top
}
