// Package windowed keeps the extreme (the lowest or the highest) of
// duration samples over a sliding time window, in ten sub-windows so that
// old extremes expire without keeping every sample: the failover engine's
// RTT baseline (the lowest RTT of the last minutes) and the probe's
// largest recent RTT (its reply timeout) are both one.
package windowed
