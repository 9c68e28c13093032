package tunnel

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOutput(t *testing.T) {
	o := &output{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o.Write([]byte("one\r\ntw"))
	o.Write([]byte("o\nthree"))
	if got := o.last(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("last = %q", got)
	}
	o.flush()
	if got := o.last(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("after flush last = %q", got)
	}
	o.Write([]byte(strings.Repeat("x", 3*outputLineLen) + "\n"))
	if got := o.last(); len(got[3]) != outputLineLen {
		t.Fatalf("long line kept %d bytes, want %d", len(got[3]), outputLineLen)
	}
	for i := range 30 {
		fmt.Fprintf(o, "line %d\n", i)
	}
	got := o.last()
	if len(got) != outputLines || got[0] != "line 10" || got[outputLines-1] != "line 29" {
		t.Fatalf("ring = %q", got)
	}
}

// TestOutputPeer: the lines OpenVPN logs when its peer's exit
// notification restarts it and when a session is initiated call peer,
// once each; other lines do not.
func TestOutputPeer(t *testing.T) {
	called := make(chan bool, 8)
	o := &output{log: slog.New(slog.DiscardHandler), peer: func(exited bool, _ time.Time) { called <- exited }}
	o.Write([]byte("CC-EEN exit message received by peer\nSIGUSR1[soft,remote-exit] received, process restarting\nRestart pause, 1 second(s)\n"))
	o.Write([]byte("SIGUSR1[soft,ping-restart] received, process restarting\n[multilink tunnel] Peer Connection Initiated with [AF_INET]192.0.2.1:1191\n"))
	var got []bool
	for range 2 {
		select {
		case e := <-called:
			got = append(got, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("reported %v, want an exit and a session", got)
		}
	}
	time.Sleep(50 * time.Millisecond) // a third call would be made by now
	if len(called) != 0 || !slices.Contains(got, true) || !slices.Contains(got, false) {
		t.Fatalf("reported %v and %d more, want one exit and one session", got, len(called))
	}
}
