package loadtest

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// A Histogram records durations in microseconds in log-linear buckets, in
// the manner of HdrHistogram: values below subBuckets are exact, and above
// that every power of two is split into subBuckets/2 equal buckets, so a
// percentile is within 1/64 (1.6 %) of the true value. Its size is fixed
// (14 KiB) whatever the number of samples, so a 10-minute run at
// 1,000 flows/s costs no more memory than a 3-second one. Safe for
// concurrent use.
type Histogram struct {
	mu       sync.Mutex
	counts   [numBuckets]int64
	n        int64
	sum      int64
	min, max int64
}

const (
	subBuckets = 128
	half       = subBuckets / 2
	// maxExp bounds recorded values below 2^(maxExp+7) µs (about 143
	// minutes); larger values are clamped.
	maxExp     = 26
	numBuckets = subBuckets + maxExp*half
	maxValue   = int64(1)<<(maxExp+7) - 1
)

// bucketOf maps a value (µs, ≥ 0) to its bucket.
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	if v > maxValue {
		v = maxValue
	}
	e := bits.Len64(uint64(v)) - 7 // v>>e is in [64, 128)
	return subBuckets + (e-1)*half + int(v>>e) - half
}

// bucketHigh is the largest value that falls into bucket i.
func bucketHigh(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := (i-subBuckets)/half + 1
	m := int64((i-subBuckets)%half + half)
	return (m+1)<<e - 1
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) { h.RecordMicros(d.Microseconds()) }

// RecordMicros adds one value in microseconds (negative counts as 0).
func (h *Histogram) RecordMicros(v int64) {
	if v < 0 {
		v = 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Count is the number of values recorded.
func (h *Histogram) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Max is the largest value recorded, exactly (0 when empty).
func (h *Histogram) Max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Duration(h.max) * time.Microsecond
}

// Mean is the exact mean (0 when empty).
func (h *Histogram) Mean() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}

// Quantile returns the value at or below which a fraction q (0 < q ≤ 1)
// of the recorded values lie: the highest value of the bucket holding the
// ⌈q·n⌉-th smallest value, never above the exact maximum. It is 0 when
// nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = max(1, min(rank, h.n))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := min(max(bucketHigh(i), h.min), h.max)
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	o.mu.Lock()
	counts, n, sum, mn, mx := o.counts, o.n, o.sum, o.min, o.max
	o.mu.Unlock()
	if n == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range counts {
		h.counts[i] += c
	}
	if h.n == 0 || mn < h.min {
		h.min = mn
	}
	h.max = max(h.max, mx)
	h.n += n
	h.sum += sum
}
