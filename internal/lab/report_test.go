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
