package tunnel

import "syscall"

// procAttr puts openvpn in its own process group, so a terminal's ^C
// reaches the daemon only and the daemon decides the order of shutdown,
// and has the kernel send it SIGTERM when its parent thread ends, so the
// tunnels die with the daemon even on SIGKILL.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
