// Package tunnel runs OpenVPN TAP tunnels, one foreground openvpn process
// per link, and supervises them: every exit is logged with the last lines
// of the process's output and followed by a restart with exponential
// backoff. On the hub the server TAPs sit in a bridge, on the gateway the
// client TAPs are enslaved in a bond; both outlive openvpn restarts.
//
// Keys: GenerateKey, ParseKey and WriteKey handle OpenVPN static key V1
// files (256 random bytes as 16 lines of hex), always mode 0600 and
// written atomically. ParseKey also accepts the '#' comment lines that
// `openvpn --genkey` puts before the key, and nothing else.
//
// Choices made here:
//
//   - Each TAP is created by us as a persistent tuntap device (IFF_TAP,
//     IFF_NO_PI, IFF_TUN_EXCL, then TUNSETPERSIST) before openvpn starts;
//     openvpn attaches to it by name (checked with OpenVPN 2.6.14) and
//     leaves its admin state alone, so bridge or bond membership and the
//     state set by SetUp survive restarts. The supervisor creates the TAP
//     again, with the remembered admin state, only if it vanished. Stop
//     deletes it.
//   - Our TAPs carry the alias "multilink-tunnel". A TAP with that alias
//     that no process holds open is a leftover of an earlier run (the
//     daemon was killed) and Start replaces it; any other interface of the
//     name is an errkind.Conflict. Hence one Manager per namespace.
//   - TAPs are created with netlink's Tuntap (LinkAdd). It opens
//     /dev/net/tun on the calling thread, not in the Handle's namespace,
//     so it runs on the namespace's locked thread (below). It reports
//     the EBUSY of an existing name as text (errno formatted with %v),
//     so after a failure the name is looked up: if it exists, the failure
//     is a conflict. github.com/songgao/water is not used: it cannot
//     create exclusively (no IFF_TUN_EXCL), it always sets TUNSETPERSIST
//     (to 0 unless told otherwise) and its fd lacks O_CLOEXEC. The busy
//     probe (a TUNSETIFF without IFF_TUN_EXCL, EBUSY while a process
//     holds the TAP) stays hand-written: attaching through netlink would
//     also set persistence and owner and hide the EBUSY.
//   - A tun device is born in the namespace of the thread that opens
//     /dev/net/tun, and a child is born in the namespace of the thread
//     that forks it. Both happen on a fresh locked OS thread that entered
//     Options.NetNS and is never unlocked (it ends with its goroutine).
//   - openvpn runs as `openvpn --config <file>`, no shell, nothing else on
//     its command line, in its own process group with a parent-death
//     signal (SIGTERM). Linux ties that signal to the forking thread, not
//     the process, so the locked thread that forks openvpn also waits for
//     it and only then ends. Stop and Close signal only that process
//     (through os.Process, pidfd-backed): SIGTERM, SIGKILL after
//     StopTimeout.
//   - The config file is written by Render from the Spec, in one of two
//     modes. Static (the spec's): p2p static-key mode with AES-256-CBC
//     and HMAC-SHA256, never "cipher none", key direction 0 on the
//     server and 1 on the client, and
//     allow-deprecated-insecure-static-crypto only when the installed
//     openvpn is 2.7 or later (asked once with --version). TLS: p2p
//     tls-server/tls-client, each end with its own self-signed
//     certificate (Identity) and trusting only the peer's by
//     --peer-fingerprint (no CA to run), ECDHE only (dh none), an AEAD
//     data channel (AES-256-GCM or CHACHA20-POLY1305, negotiated between
//     2.6 peers) rekeyed every hour: forward secrecy. It needs OpenVPN
//     2.6; an older one is errkind.Unsupported with the way out (ask for
//     static mode).
//   - Keepalive is "ping 10" and "ping-restart 60": OpenVPN's usual
//     pair, for NAT state; the probe watches liveness, far faster.
//     The server uses "float" (follow a client whose address changed;
//     packets are authenticated by the key), "ping-timer-rem" (no
//     restarts while no client was ever heard) and "multihome": it
//     listens on the wildcard address, and without multihome it answers
//     from the outgoing interface's address, which a client that sent to
//     another hub address (one address reachable over two underlays)
//     rejects.
//   - Clients bind the socket to Spec.Device (bind-dev, SO_BINDTODEVICE)
//     and set Spec.Mark (SO_MARK) for the caller's policy routing. OpenVPN
//     parses --mark as a signed int, so marks above 0x7fffffff are
//     refused.
//   - With Options.User, openvpn drops to that user and group once it has
//     read its config and keys and opened the TAP and socket (user,
//     group). OpenVPN 2.6 keeps CAP_NET_ADMIN (libcap-ng) for SO_MARK on
//     the socket it opens at a ping-restart; SO_BINDTODEVICE needs no
//     capability since Linux 5.7; persist-tun and persist-key keep the
//     rest. Without it openvpn keeps root.
//   - Every value written into a config file is validated first
//     (interface names by api.CheckIfName, paths restricted to
//     "/._-+@:," letters and digits), so no quoting is needed.
package tunnel
