package tunnel

import "syscall"

// procAttr without keep puts openvpn in its own process group, so a
// terminal's ^C reaches the daemon only and the daemon decides the order
// of shutdown, and has the kernel send it SIGTERM when its parent thread
// ends, so the tunnels die with the daemon even on SIGKILL. With keep
// (Options.Keep) openvpn outlives the daemon: no parent-death signal, and
// a session of its own, so that no hang-up of a terminal that started the
// daemon reaches it (SIGHUP is openvpn's hard restart).
func procAttr(keep bool) *syscall.SysProcAttr {
	if keep {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
