package timing

import (
	"math"
	"slices"
	"time"
)

// RankTest is the result of a Wilcoxon signed-rank test on paired
// differences.
type RankTest struct {
	N      int           // pairs with a non-zero difference
	Median time.Duration // median of the differences
	// P is the exact two-sided p-value of "the differences are symmetric
	// around zero".
	P float64
	// Spread is the median absolute deviation of the differences: how much
	// the host's noise moves one pair.
	Spread time.Duration
}

// SignedRank runs the exact two-sided Wilcoxon signed-rank test on paired
// differences (a minus b of each interleaved pair). Pairing cancels drift
// that hits both kinds alike; ranks make one stalled sample count as one
// sample, not as its size.
func SignedRank(diffs []time.Duration) RankTest {
	var nz []time.Duration
	for _, d := range diffs {
		if d != 0 {
			nz = append(nz, d)
		}
	}
	r := RankTest{N: len(nz), P: 1, Median: median(diffs)}
	dev := make([]time.Duration, len(diffs))
	for i, d := range diffs {
		dev[i] = abs(d - r.Median)
	}
	r.Spread = median(dev)
	if r.N == 0 {
		return r
	}
	// Ranks of |d|, ties sharing their mean rank (doubled to stay integral).
	order := slices.Clone(nz)
	slices.SortFunc(order, func(a, b time.Duration) int { return cmp(abs(a), abs(b)) })
	rank2 := map[time.Duration]int{} // |d| -> 2*rank
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && abs(order[j]) == abs(order[i]) {
			j++
		}
		rank2[abs(order[i])] = i + 1 + j // 2 * mean of ranks i+1..j
		i = j
	}
	ranks := make([]int, len(nz))
	wPlus := 0
	for i, d := range nz {
		ranks[i] = rank2[abs(d)]
		if d > 0 {
			wPlus += ranks[i]
		}
	}
	// Exact null distribution of W+ (in doubled ranks) by dynamic
	// programming over the 2^n sign assignments.
	total := 0
	for _, x := range ranks {
		total += x
	}
	ways := make([]float64, total+1)
	ways[0] = 1
	for _, x := range ranks {
		for s := total; s >= x; s-- {
			ways[s] += ways[s-x]
		}
	}
	all := math.Pow(2, float64(len(ranks)))
	lo := min(wPlus, total-wPlus)
	tail := 0.0
	for s := 0; s <= lo; s++ {
		tail += ways[s]
	}
	r.P = math.Min(1, 2*tail/all)
	return r
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func cmp(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
