package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/multilink/multilink/internal/bond"
	"github.com/multilink/multilink/internal/bpfpin"
	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/tunnel"
)

// Keep is what the daemon's exit leaves of the data plane it runs
// (--keep-dataplane).
type Keep string

// Keep modes.
const (
	// KeepNone: the exit removes everything (without the flag).
	KeepNone Keep = ""
	// KeepAll: the exit leaves every kernel object, pin and openvpn
	// process: the next daemon adopts them and forwarding never stops.
	KeepAll Keep = "all"
	// KeepKernel: the exit leaves kernel objects and pins but ends the
	// openvpn processes (a container's processes end with it anyway).
	KeepKernel Keep = "kernel"
)

// ParseKeep reads --keep-dataplane's value: true or all, kernel, false or
// none.
func ParseKeep(s string) (Keep, error) {
	switch s {
	case "true", "all":
		return KeepAll, nil
	case "kernel":
		return KeepKernel, nil
	case "false", "none", "":
		return KeepNone, nil
	}
	return KeepNone, fmt.Errorf("--keep-dataplane=%s: want all (the flag alone), kernel or none", s)
}

// DefaultBPFFS is where the daemon pins eBPF objects when --bpffs does not
// say otherwise.
const DefaultBPFFS = "/sys/fs/bpf"

// pinDir readies <bpffs>/multilink/<instance> for the data plane's pins
// (a bpffs is mounted there when none is and the daemon may). Without one
// it returns "" and a warning: eBPF objects then end with the daemon
// (the eBPF bond stops forwarding at its exit on a TCX kernel).
func pinDir(bpffs string, mark owner.Mark, log *slog.Logger) (string, string) {
	if bpffs == "" {
		bpffs = DefaultBPFFS
	}
	mounted, err := bpfpin.Ensure(bpffs, log)
	if err != nil {
		w := fmt.Sprintf("--bpffs %s: %v: eBPF programs and maps end with this daemon (an eBPF bond stops forwarding while it restarts)", bpffs, err)
		log.Warn(w)
		return "", w
	}
	if mounted {
		log.Info("mounted a bpf file system for the data plane's pins", "dir", bpffs)
	}
	return bpfpin.Dir(bpffs, mark.Instance()), ""
}

// sweepLeftovers removes what an earlier run of this state dir left and
// this one did not adopt: openvpn processes no tunnel runs, interfaces of
// ours no server or client uses, policy routing no client uses. It runs
// once the desired entries were started. What a desired entry that is
// still pending (its hub did not answer) left is spared: it keeps
// forwarding, without a failover engine, until the entry's retry adopts
// it. Nothing is swept when the daemon is stopping meanwhile: a start cut
// short must not take down what it was about to adopt.
func sweepLeftovers(ctx context.Context, nl *netlink.Handle, mark owner.Mark, r *roles, tunnels *tunnel.Manager, log *slog.Logger) error {
	if ctx.Err() != nil {
		return nil
	}
	used := append(r.gw.Interfaces(), r.hub.Interfaces()...)
	pending := false
	for _, names := range r.pendingInterfaces() {
		pending = true
		used = append(used, names...)
	}
	spare := func(name string) bool { return slices.Contains(used, name) }
	var errs []error
	if err := tunnels.EndUnclaimed(ctx, spare); err != nil {
		errs = append(errs, fmt.Errorf("end the openvpn an earlier run left: %w", err))
	}
	if _, err := owner.Sweep(nl, mark, spare, log); err != nil {
		errs = append(errs, fmt.Errorf("remove what an earlier run left: %w", err))
	}
	if pending {
		// Which routing marks a pending client had is not known before
		// its start: its rules stay until a start without one pending.
		log.Info("the policy routing an earlier run left stays while a desired client is pending")
	} else if err := r.gw.SweepRoutes(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// leave ends the daemon's part and lets the data plane run on (exit with
// --keep-dataplane): the retries and engines stop, every handle closes,
// and bonds, bridges, TAPs, routes, pins and (KeepAll) the openvpn
// processes stay for the next daemon of this state dir to adopt.
func leave(log *slog.Logger, keep Keep, r *roles, tunnels *tunnel.Manager) {
	r.stopRetries()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := r.gw.Leave(ctx); err != nil {
		log.Error("let go of the clients' data plane", "err", err)
	}
	if err := r.hub.Leave(ctx); err != nil {
		log.Error("let go of the servers", "err", err)
	}
	if err := tunnels.Release(ctx, keep == KeepKernel); err != nil {
		log.Error("let go of the tunnels", "err", err)
	}
	what := "bridges, bonds, tunnels and their openvpn"
	if keep == KeepKernel {
		what = "bridges, bonds and TAPs (the openvpn processes were ended)"
	}
	log.Info("stopped; the data plane stays: "+what+"; the next daemon with this state dir takes it over, multilink purge removes it",
		"keep_dataplane", string(keep))
}

// effectiveKeep is keep, made KeepKernel when the daemon is the first
// process of its PID namespace (a container): every other process of the
// namespace ends with it, openvpn too.
func effectiveKeep(keep Keep, log *slog.Logger) Keep {
	if keep == KeepAll && os.Getpid() == 1 {
		log.Info("--keep-dataplane=all taken as kernel: this daemon is PID 1 of its PID namespace (a container), whose processes end with it")
		return KeepKernel
	}
	return keep
}

// pendingInterfaces lists, per pending entry, the interfaces it has when
// it runs: a bridge or a bond (with an eBPF bond's hidden peer) and its
// TAPs.
func (r *roles) pendingInterfaces() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]string
	for _, p := range r.pending {
		if p.server != nil {
			out = append(out, append([]string{p.server.BridgeInterface}, p.server.Taps()...))
			continue
		}
		out = append(out, append([]string{p.client.Bond, bond.PeerName(p.client.Bond)}, p.client.Taps()...))
	}
	return out
}
