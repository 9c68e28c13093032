package lab

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	out := `LAB-KERNEL: 6.1.0-56-amd64
LAB-PKG-BEGIN bond
=== RUN   TestA
--- PASS: TestA (0.01s)
=== RUN   TestB
=== RUN   TestB/sub
    helpers_test.go:268: time=2026-12-03T10:16:34.368Z level=INFO msg="tunnel started"
    b_test.go:12: lost 2 of 163
    --- FAIL: TestB/sub (0.00s)
--- FAIL: TestB (0.00s)
--- SKIP: TestC (0.00s)
FAIL
LAB-PKG-END bond 1
LAB-PKG-BEGIN e2e
panic: boom
LAB-PKG-END e2e 2
LAB-PKG-BEGIN tunnel
--- PASS: TestT (1.00s)
LAB-EXIT: 1`
	r := Parse(out, []string{"bond", "e2e", "tunnel"})
	if r.Kernel != "6.1.0-56-amd64" {
		t.Errorf("kernel %q", r.Kernel)
	}
	p, f, s := r.Counts()
	if p != 2 || f != 1 || s != 1 {
		t.Errorf("counts %d/%d/%d, want 2/1/1 (subtests not counted)", p, f, s)
	}
	if len(r.Problems) != 2 {
		t.Errorf("problems %q: want the e2e panic and the unfinished tunnel", r.Problems)
	}
	if r.OK() {
		t.Error("OK with failures")
	}
	want := []string{"b_test.go:12: lost 2 of 163", "--- FAIL: TestB/sub (0.00s)"}
	for _, res := range r.Results {
		switch {
		case res.Test == "TestB" && strings.Join(res.Output, "|") != strings.Join(want, "|"):
			t.Errorf("TestB's output %q, want %q (its own lines, not the daemon's)", res.Output, want)
		case res.Test != "TestB" && res.Output != nil:
			t.Errorf("%s kept output %q: only failures do", res.Test, res.Output)
		}
	}
	if code, ok := exitCode(out); !ok || code != 1 {
		t.Errorf("exit code %d %v", code, ok)
	}
}

func TestParseClean(t *testing.T) {
	out := "LAB-PKG-BEGIN bond\n--- PASS: TestA (0.01s)\nPASS\nLAB-PKG-END bond 0\nLAB-EXIT: 0\n"
	r := Parse(out, []string{"bond"})
	if !r.OK() {
		t.Errorf("not OK: %+v", r)
	}
	if r := Parse("", []string{"bond"}); r.OK() {
		t.Error("empty output is OK")
	}
}

func TestModName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/fs/9p/9p.ko.xz":                      "9p",
		"kernel/net/9p/9pnet_virtio.ko":              "9pnet_virtio",
		"kernel/drivers/virtio/virtio_pci-legacy.ko": "virtio_pci_legacy",
	} {
		if got := modName(in); got != want {
			t.Errorf("modName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestParseOutputBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("LAB-PKG-BEGIN e2e\n=== RUN   TestX\n")
	for i := range maxOutput + 10 {
		fmt.Fprintf(&b, "    x_test.go:1: line %d\n", i)
	}
	b.WriteString("--- FAIL: TestX (1.00s)\nLAB-PKG-END e2e 1\n")
	r := Parse(b.String(), []string{"e2e"})
	if len(r.Results) != 1 {
		t.Fatalf("results %+v", r.Results)
	}
	out := r.Results[0].Output
	if len(out) != maxOutput || out[len(out)-1] != fmt.Sprintf("x_test.go:1: line %d", maxOutput+9) {
		t.Errorf("output %d lines ending %q: want the last %d", len(out), out[len(out)-1], maxOutput)
	}
}

// A guest kernel's oops is a problem naming the test that ran, and its
// excerpt keeps the fault and the call chain, not the registers.
func TestParseOops(t *testing.T) {
	out := `LAB-KERNEL: 6.12.118+deb12-amd64
LAB-PKG-BEGIN e2e
=== RUN   TestRotate
--- PASS: TestRotate (9.00s)
=== RUN   TestClient
=== RUN   TestClient/bond
    x_test.go:1: step
[  852.914300] BUG: kernel NULL pointer dereference, address: 000000000000001c
[  852.914310] Oops: 0000 [#1] PREEMPT SMP NOPTI
[  852.914320] RIP: 0010:bond_xmit_activebackup_slave_get+0x5/0x40 [bonding]
    x_test.go:2: interleaved test line
[  852.914420] Code: 0e 75 a8 41 8b
[  852.914426] RSP: 0018:ff5a897a4466b940 EFLAGS: 4382f246
[  852.914433] RAX: 0000000000000801 RBX: ff20c6714383c000 RCX: 000000015a33e000
[  852.914440] Call Trace:
[  852.914441]  <IRQ>
[  852.914442]  ? __die+0x20/0x70
[  852.914443]  bond_start_xmit+0x11/0x400 [bonding]
[  852.914444]  </IRQ>
[  852.914450] ---[ end trace 0000000000000000 ]---
[  852.914451] RIP: 0010:bond_xmit_activebackup_slave_get+0x5/0x40 [bonding]
[  852.914452] RAX: 0000000000000801 RBX: ff20c6714383c000 RCX: 000000015a33e000
[  852.914582] Kernel panic - not syncing: Fatal exception in interrupt
[  852.915426] Kernel Offset: 0x23c00000 from 0xffffffff81000000`
	r := Parse(out, []string{"e2e"})
	if len(r.Oops) != 1 {
		t.Fatalf("%d reports, want 1: %+v", len(r.Oops), r.Oops)
	}
	o := r.Oops[0]
	if o.Package != "e2e" || o.Test != "TestClient" {
		t.Errorf("report during %s/%s, want e2e/TestClient", o.Package, o.Test)
	}
	got := strings.Join(o.Lines, "\n")
	for _, want := range []string{"BUG: kernel NULL pointer", "RIP: 0010:bond_xmit_activebackup_slave_get", "bond_start_xmit+0x11/0x400 [bonding]", "Kernel panic - not syncing"} {
		if !strings.Contains(got, want) {
			t.Errorf("excerpt lacks %q:\n%s", want, got)
		}
	}
	for _, noise := range []string{"Code:", "RSP:", "RAX:", "__die", "interleaved", "Kernel Offset"} {
		if strings.Contains(got, noise) {
			t.Errorf("excerpt keeps %q:\n%s", noise, got)
		}
	}
	if r.OK() || len(r.Problems) != 2 || !strings.Contains(r.Problems[0], "kernel report during e2e/TestClient: BUG: kernel NULL") {
		t.Errorf("problems %q: want the report and the missing result", r.Problems)
	}
	clean := Parse("LAB-PKG-BEGIN e2e\n[    1.000000] bonding: loaded\nLAB-PKG-END e2e 0", []string{"e2e"})
	if len(clean.Oops) != 0 || !clean.OK() {
		t.Errorf("an ordinary kernel line read as a report: %+v", clean)
	}
}
