package statusview

import "github.com/multilink/multilink/api"

// Quantile estimates the q quantile (0 < q < 1) of a link's RTT from its
// kernel histogram (log2 buckets, not cumulative), interpolating inside
// the bucket it falls in, as Prometheus' histogram_quantile does; nil
// without samples. A quantile in the open last bucket is its lower bound.
func Quantile(h []api.RTTBucket, q float64) *float64 {
	var total uint64
	for _, b := range h {
		total += b.Count
	}
	if total == 0 || q <= 0 || q >= 1 {
		return nil
	}
	rank := q * float64(total)
	var seen float64
	lower := 0.0
	for _, b := range h {
		next := seen + float64(b.Count)
		if next >= rank && b.Count > 0 {
			if b.LeMs == nil {
				v := lower
				return &v
			}
			v := lower + (*b.LeMs-lower)*(rank-seen)/float64(b.Count)
			return &v
		}
		seen = next
		if b.LeMs != nil {
			lower = *b.LeMs
		}
	}
	v := lower
	return &v
}
