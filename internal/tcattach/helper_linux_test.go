package tcattach

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/multilink/multilink/internal/nsthread"
)

// helperEnv makes the test binary a helper process: it attaches the
// redirect programs as a job tells and exits without detaching, as a
// daemon that ends does.
const helperEnv = "MULTILINK_TCATTACH_HELPER"

// job is what the helper does.
type job struct {
	NS     string // namespace path
	X, Y   int    // the two devices that redirect to each other
	Mode   string
	PinDir string
}

func TestMain(m *testing.M) {
	if j := os.Getenv(helperEnv); j != "" {
		if err := runHelper(j); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(raw string) error {
	var j job
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		return err
	}
	ns, err := netns.GetFromPath(j.NS)
	if err != nil {
		return err
	}
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer nl.Close()
	if err := rlimit.RemoveMemlock(); err != nil {
		return err
	}
	return nsthread.In(ns, func() error {
		for _, d := range [][2]int{{j.X, j.Y}, {j.Y, j.X}} {
			p, err := redirect(d[1])
			if err != nil {
				return err
			}
			if _, err := Attach(nl, d[0], []Program{{Prog: p, Ingress: true}}, Options{Mode: j.Mode, Name: testFilter, Priority: 5, PinDir: j.PinDir}); err != nil {
				return err
			}
		}
		return nil // exit without Detach or Release
	})
}

// runJob runs the helper process and waits for it to exit.
func runJob(t *testing.T, j job) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(j)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"="+string(b))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper %+v: %v\n%s", j, err, out)
	}
}

// redirect is a program that sends every frame out of ifindex: without it
// nothing crosses the middle namespace.
func redirect(ifindex int) (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:    "redirect",
		Type:    ebpf.SchedCLS,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R1, int32(ifindex)),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnRedirect.Call(),
			asm.Return(),
		},
	})
}
