package tcattach

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/multilink/multilink/internal/nstest"
)

// named is a program that passes every frame on (TC_ACT_UNSPEC), named name.
func named(t *testing.T, name string) *ebpf.Program {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: name, Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// chain names the programs on x's TCX ingress, in the order they run.
func (w *world) chain(t *testing.T) []string {
	t.Helper()
	var names []string
	err := w.mid.Do(func() (err error) {
		names, err = IngressChain(w.x)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestTCXBefore: a program attached Before another runs after the head's
// and before that one, whichever was attached first.
func TestTCXBefore(t *testing.T) {
	requireTCX(t)
	for _, order := range [][]string{{"head", "tail", "mid"}, {"mid", "tail", "head"}, {"tail", "mid", "head"}} {
		w := newWorld(t)
		var atts []*Attachment
		for _, name := range order {
			o := Options{Mode: TCX, Name: "multilink_" + name}
			switch name {
			case "head":
				o.First = true
			case "mid":
				o.Before = "tail"
			}
			var a *Attachment
			err := w.mid.Do(func() (err error) {
				a, err = Attach(w.mid.Handle, w.x, []Program{{Prog: named(t, name), Ingress: true}}, o)
				return err
			})
			if err != nil {
				t.Fatalf("attach %s: %v", name, err)
			}
			atts = append(atts, a)
		}
		if got := w.chain(t); len(got) != 3 || got[0] != "head" || got[1] != "mid" || got[2] != "tail" {
			t.Errorf("attached in the order %v: chain %v, want [head mid tail]", order, got)
		}
		for _, a := range atts {
			if err := a.Detach(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAutoBeforeOnAnyKernel: Auto with Before attaches on every kernel:
// TCX where the kernel has it (6.6), else a legacy filter (the kernel
// lab's 6.1), never an error from looking for the program to go before.
func TestAutoBeforeOnAnyKernel(t *testing.T) {
	w := newWorld(t)
	want := Legacy
	if nstest.KernelAtLeast(t, 6, 6) {
		want = TCX
	}
	var a *Attachment
	err := w.mid.Do(func() (err error) {
		a, err = Attach(w.mid.Handle, w.x, []Program{{Prog: named(t, "mid"), Ingress: true}},
			Options{Name: "multilink_mid", Before: "tail"})
		return err
	})
	if err != nil {
		t.Fatalf("attach (auto, before): %v", err)
	}
	if a.Mode() != want {
		t.Errorf("attached as %s, want %s on this kernel", a.Mode(), want)
	}
	if err := a.Detach(); err != nil {
		t.Fatal(err)
	}
}
