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
//     daemon was killed, or released its tunnels): Start takes it over as
//     it is (admin state, bridge or bond membership kept) and starts
//     openvpn on it. Any other interface of the name, or a TAP of ours
//     that another process holds, is an errkind.Conflict. Hence one
//     Manager per namespace.
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
//     its command line, stdin /dev/null. Without Options.Keep it runs in
//     its own process group with a parent-death signal (SIGTERM) and its
//     output comes through a pipe. Linux ties that signal to the forking
//     thread, not the process, so the locked thread that forks openvpn
//     also waits for it and only then ends. With Options.Keep it outlives
//     the daemon: no parent-death signal, a session of its own (a hang-up
//     of the daemon's terminal must not reach it: SIGHUP is openvpn's
//     hard restart), output appended to <Dir>/<tap>.log (truncated when
//     over 1 MiB as a process starts on it), which a goroutine polls for
//     the debug log and the exit message. The daemon's own stdout and
//     stderr are never inherited: a kept process would hold a journal
//     stream or a harness's pipe open. Stop and Close signal only that
//     process (os.Process, pidfd-backed): SIGTERM, SIGKILL after
//     StopTimeout.
//   - Every run writes <Dir>/<tap>.pid atomically: pid, start time (clock
//     ticks, /proc/<pid>/stat), boot id, pid and network namespace,
//     SHA-256 of the config it started with, restarts. Stop and Close
//     remove it with the config and log file; Release leaves them all.
//   - Start adopts what an earlier Manager of the same Dir left running:
//     it opens a pidfd of the pid file's process first (from then on the
//     pid cannot name another process), then requires the recorded start
//     time, boot and pid namespace, a live process running exactly
//     `<bin> --config <Dir>/<tap>.conf` in this Manager's network
//     namespace, the TAP ours and held by it (fdinfo when readable), and
//     the rendered config equal to the file on disk and to the recorded
//     checksum. An adopted process is waited on through its pidfd in the
//     Go runtime's poller and signalled with pidfd_send_signal; its exit
//     status belongs to whoever reaps it (init or a subreaper), so its
//     exit is logged as unknown, and the restart loop then starts an
//     ordinary child. When anything does not match, every process running
//     that config is ended as EndStrays does and a new one started; a
//     process the pid file names that does not run the config is never
//     signalled. Always adopting (not only after a Keep run) is the
//     lead's choice: it is never more disruptive than restarting.
//   - Release stops supervising and leaves everything to the next
//     Manager, processes running or (end) ended as EndStrays does;
//     EndUnclaimed ends the processes of Dir that no tunnel of this
//     Manager claims and removes their files, once the daemon has started
//     what it wants.
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
