package probe

import (
	"sort"
	"time"
)

// Figures returns a link's derived figures and current probe interval,
// without reading the kernel (cheap enough for every sample).
func (m *Monitor) Figures(tap string) (Figures, time.Duration, bool) {
	m.mu.Lock()
	p, ok := m.links[tap]
	m.mu.Unlock()
	if !ok {
		return Figures{}, 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tr.fig, p.interval(p.active, p.idling()), true
}

// FirstSentAfter is when the first probe out of the link after t was
// sent (or failed to be), zero if none was: with t its last reply, how
// long the link has been asked without answering.
func (m *Monitor) FirstSentAfter(tap string, t time.Time) time.Time {
	m.mu.Lock()
	p, ok := m.links[tap]
	m.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tr.firstSentAfter(t)
}

// LastReply is when the kernel last saw an ARP reply from the link's
// target arrive, to our probes or to the bond's (zero if never):
// authoritative even when the daemon has not read its events yet (one map
// read).
func (m *Monitor) LastReply(tap string) time.Time {
	m.mu.Lock()
	p, ok := m.links[tap]
	m.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	kv, err := p.readStat()
	if err != nil || kv.lastReplyNs == 0 {
		return time.Time{}
	}
	now, mono := time.Now(), p.mono()
	if kv.lastReplyNs > mono {
		return now
	}
	return now.Add(-time.Duration(mono - kv.lastReplyNs))
}

// Links returns every probed link's figures, by bond then link.
func (m *Monitor) Links() []LinkStats {
	m.mu.Lock()
	ls := m.all()
	m.mu.Unlock()
	out := make([]LinkStats, 0, len(ls))
	for _, p := range ls {
		out = append(out, p.snapshot(p.att.Mode()))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bond != out[j].Bond {
			return out[i].Bond < out[j].Bond
		}
		return out[i].Link < out[j].Link
	})
	return out
}
