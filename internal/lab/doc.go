// Package lab runs multilink's kernel tests on real Debian kernels under
// QEMU (TCG), because the CI host's kernel has no bonding and no netem.
//
// For each kernel it downloads Debian's stock kernel package with apt-get
// (cached), extracts it and runs depmod; builds a small initramfs (busybox,
// the 9p and virtio modules) whose init mounts the host's root read-only
// over 9p, mounts fresh proc/sys/dev/run/tmp/bpffs over it, and chroots
// into it to run guest.sh: that loads the kernel's modules (bonding, netem,
// veth, tun, bridge, cls_bpf, ...) with modprobe -d from the extracted
// package and runs the prebuilt test binaries with MULTILINK_LAB=1, where a
// skip for a missing feature is a failure. The VM reports each package's
// exit status and powers off; a crash, a hang (bounded by a timeout) or a
// missing result fails the run. Parse keeps a failed test's own lines
// (not the daemon log records it forwards), so the summary can repeat them
// where a log's tail shows them.
//
// The guest reaches everything by its host path: guest.sh and the test
// packages' dirs in the checkout, the plan and binaries in the work dir.
// The fresh /tmp hides the host's, so the work dir must not be under /tmp
// (DefaultWorkDir puts a /tmp checkout's under /var/tmp), and a checkout
// under /tmp (Guest.Keep) is bind-mounted back at its path before the
// tmpfs covers it.
package lab
