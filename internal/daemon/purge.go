package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/bpfpin"
	"github.com/multilink/multilink/internal/gateway"
	"github.com/multilink/multilink/internal/owner"
	"github.com/multilink/multilink/internal/tunnel"
)

// PurgeOptions configures Purge.
type PurgeOptions struct {
	StateDir string        // "": DefaultStateDir
	BPFFS    string        // "": DefaultBPFFS
	Wait     time.Duration // how long a daemon holding the state dir may take to exit (0: not at all)
	Logger   *slog.Logger
}

// ErrDaemonRuns: a daemon holds the state dir, so Purge changed nothing.
var ErrDaemonRuns = errors.New("a multilink daemon uses this state dir")

// lockRetry is how often Purge tries the lock of a held state dir.
const lockRetry = 100 * time.Millisecond

// Purge removes the data plane a daemon of stateDir left running
// (--keep-dataplane) or a crash left: its openvpn processes, eBPF pins,
// interfaces, policy routing and the files that describe them. The host
// and the state dir end up as a daemon's exit without the flag leaves
// them: the desired state, keys, identity, token and claims stay. It holds
// the state dir's lock throughout, so no daemon starts meanwhile, and
// refuses (ErrDaemonRuns) while a daemon holds it, after waiting up to
// Wait for it to exit.
func Purge(ctx context.Context, o PurgeOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.BPFFS == "" {
		o.BPFFS = DefaultBPFFS
	}
	if _, err := os.Stat(o.StateDir); errors.Is(err, os.ErrNotExist) {
		log.Info("nothing to purge: no state dir", "dir", o.StateDir)
		return nil
	}
	dir, err := waitLock(ctx, o.StateDir, o.Wait)
	if err != nil {
		return err
	}
	defer dir.Close()
	var errs []error
	tunnels := filepath.Join(o.StateDir, "tunnels")
	if err := tunnel.EndStrays(tunnels, log); err != nil {
		errs = append(errs, fmt.Errorf("end the openvpn processes: %w", err))
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, "instance")); err == nil {
		mark, err := owner.Load(o.StateDir)
		if err != nil {
			return err
		}
		errs = append(errs, purgeKernel(o, mark, log))
	}
	errs = append(errs, purgeFiles(o.StateDir, tunnels))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("purged: nothing of this state dir's data plane is left", "dir", o.StateDir)
	return nil
}

// waitLock takes the state dir's lock, waiting up to wait for a daemon
// that holds it to exit.
func waitLock(ctx context.Context, dir string, wait time.Duration) (lockedDir, error) {
	deadline := time.Now().Add(wait)
	for {
		d, holder, err := lockDir(dir)
		if !errors.Is(err, errInUse) {
			return d, err
		}
		if !time.Now().Before(deadline) {
			return lockedDir{}, fmt.Errorf("state dir %s: %w (pid %s): stop it first (systemctl stop multilink), then purge", dir, ErrDaemonRuns, holder)
		}
		select {
		case <-ctx.Done():
			return lockedDir{}, fmt.Errorf("wait for the daemon of %s (pid %s) to exit: %w", dir, holder, ctx.Err())
		case <-time.After(lockRetry):
		}
	}
}

// purgeKernel removes the pins, interfaces and policy routing of mark.
func purgeKernel(o PurgeOptions, mark owner.Mark, log *slog.Logger) error {
	var errs []error
	// Pins first: a TCX link goes with its last reference.
	if err := bpfpin.RemoveAll(bpfpin.Dir(o.BPFFS, mark.Instance())); err != nil {
		errs = append(errs, fmt.Errorf("remove the eBPF pins: %w", err))
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("open netlink: %w", err))...)
	}
	defer nl.Close()
	if _, err := owner.Sweep(nl, mark, nil, log); err != nil {
		errs = append(errs, err)
	}
	if err := gateway.PurgeRoutes(nl, filepath.Join(o.StateDir, "routes.json"), log); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// purgeFiles removes the tunnels' configs, pid files and logs, and the
// clients' link keys (they come back with the next claim), as the exit
// without --keep-dataplane does.
func purgeFiles(stateDir, tunnels string) error {
	var errs []error
	for _, pat := range []string{"*.conf", "*.pid", "*.log"} {
		files, _ := filepath.Glob(filepath.Join(tunnels, pat))
		for _, f := range files {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", f, err))
			}
		}
	}
	saved, err := newStore(stateDir).load()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	keys := filepath.Join(stateDir, "keys")
	for _, c := range saved.Clients {
		names := append([]string{c.Bond}, c.Taps()...)
		for _, n := range names {
			if err := os.Remove(filepath.Join(keys, n+".key")); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove the key of %s: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}
