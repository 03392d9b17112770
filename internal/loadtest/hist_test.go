package loadtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 1<<30 + 7, maxValue} {
		b := bucketOf(v)
		if b < prev || b >= numBuckets {
			t.Fatalf("value %d: bucket %d after %d (of %d)", v, b, prev, numBuckets)
		}
		if hi := bucketHigh(b); hi < v || float64(hi-v) > float64(v)/64+1 {
			t.Fatalf("value %d: bucket %d high %d is not within 1/64 above it", v, b, hi)
		}
		prev = b
	}
	if bucketOf(maxValue*4) != bucketOf(maxValue) {
		t.Fatalf("values above the maximum are not clamped")
	}
}

// exactQuantile is the oracle: the ⌈q·n⌉-th smallest value.
func exactQuantile(sorted []int64, q float64) int64 {
	i := int(float64(len(sorted))*q+0.999999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func TestQuantilesAgainstSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		gen  func() int64
	}{
		{"uniform 1..10,000 µs", func() int64 { return 1 + r.Int64N(10000) }},
		{"long tail: mostly 2 ms, sometimes 2 s", func() int64 {
			if r.IntN(200) == 0 {
				return 2_000_000 + r.Int64N(500_000)
			}
			return 2000 + r.Int64N(300)
		}},
		{"tiny values are exact", func() int64 { return r.Int64N(100) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h Histogram
			var all []int64
			for range 50_000 {
				v := c.gen()
				all = append(all, v)
				h.RecordMicros(v)
			}
			slices.Sort(all)
			for _, q := range []float64{0.5, 0.95, 0.99, 0.999, 1} {
				want := exactQuantile(all, q)
				got := h.Quantile(q).Microseconds()
				if got < want || float64(got-want) > float64(want)/64+1 {
					t.Errorf("p%g = %d µs, exact %d µs", q*100, got, want)
				}
			}
			if h.Max().Microseconds() != all[len(all)-1] || h.Count() != int64(len(all)) {
				t.Errorf("max %v count %d, want %d µs and %d", h.Max(), h.Count(), all[len(all)-1], len(all))
			}
		})
	}
}

func TestEmptyAndMerged(t *testing.T) {
	var a, b Histogram
	if a.Quantile(0.99) != 0 || a.Mean() != 0 || a.Max() != 0 {
		t.Fatalf("empty histogram reports values")
	}
	for i := range 100 {
		a.Record(time.Duration(i+1) * time.Millisecond)
		b.Record(time.Duration(i+101) * time.Millisecond)
	}
	a.Merge(&b)
	if a.Count() != 200 || a.Max() != 200*time.Millisecond {
		t.Fatalf("merged count %d max %v", a.Count(), a.Max())
	}
	if p := a.Quantile(0.5); p < 100*time.Millisecond || p > 102*time.Millisecond {
		t.Fatalf("merged p50 %v, want ≈100 ms", p)
	}
	if m := a.Mean(); m < 100*time.Millisecond || m > 101*time.Millisecond {
		t.Fatalf("merged mean %v", m)
	}
}
