package hub

import "time"

// peerSeen follows one TAP's received-frame counter to tell when its peer
// was last heard: the first look at which the counter had moved. The
// counter is read at every scrape of the hub's metrics and, for a held
// bridge, at every claim check (30 s), so the time is late by at most
// the interval between two looks.
type peerSeen struct {
	rx uint64    // the counter at the last look
	at time.Time // when a look last found it moved; the link's start before that
}

// notePeer records a look at tap's received-frame counter rx at now. A
// TAP made anew (openvpn restarted) counts from 0 again: a lower count
// that is not 0 still means frames came in (h.mu held).
func (s *server) notePeer(tap string, rx uint64, now time.Time) time.Time {
	p, ok := s.peers[tap]
	if !ok {
		p = peerSeen{at: s.startedAt}
	}
	if rx != p.rx && rx != 0 {
		p.at = now
	}
	p.rx = rx
	if s.peers == nil {
		s.peers = map[string]peerSeen{}
	}
	s.peers[tap] = p
	return p.at
}
