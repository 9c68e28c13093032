package bond

// PeerName is the name of the hidden veth peer of eBPF bond name (the
// daemon's sweep of what an earlier run left must spare an adopted bond's).
func PeerName(name string) string { return peerName(name) }
