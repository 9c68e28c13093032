package tunnel

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
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
