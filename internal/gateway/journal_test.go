package gateway

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/testsupport"
)

func TestJournalKeepsMarks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	j, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []uint32{markFor(0, 1), markFor(0, 0), markFor(1, 0)} {
		if err := j.set(m, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.set(markFor(1, 0), false); err != nil {
		t.Fatal(err)
	}
	again, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := again.left(), []uint32{markFor(0, 0), markFor(0, 1)}; !slices.Equal(got, want) {
		t.Errorf("journal after reopening: %#x, want %#x", got, want)
	}
}

func TestJournalDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	if err := os.WriteFile(path, []byte("[1, 2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openJournal(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("damaged journal: %v, want an error naming it", err)
	}
}

// TestStartStopJournals: a bond's rules are journalled while in place and
// forgotten when it stops.
func TestStartStopJournals(t *testing.T) {
	w := newWorld("eth0", "wlan0")
	g := testGateway(t, w, &fetcher{})
	j, err := openJournal(filepath.Join(t.TempDir(), "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	g.journal = j
	if _, err := g.Start(t.Context(), testsupport.SpecClient(t)); err != nil {
		t.Fatal(err)
	}
	if got := j.left(); !slices.Equal(got, []uint32{markFor(0, 0), markFor(0, 1)}) {
		t.Errorf("journal while bond0 runs: %#x", got)
	}
	if err := g.Stop(t.Context(), "bond0"); err != nil {
		t.Fatal(err)
	}
	if got := j.left(); len(got) != 0 {
		t.Errorf("journal after the stop: %#x", got)
	}
}

// TestJournalFailedWriteForgotten: a mark whose write failed is not taken
// as recorded, so the next set of it writes.
func TestJournalFailedWriteForgotten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	j, err := openJournal(filepath.Join(dir, "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.set(markFor(0, 0), true); err == nil {
		t.Fatal("a write into a missing dir worked")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := j.set(markFor(0, 0), true); err != nil {
		t.Fatal(err)
	}
	again, err := openJournal(filepath.Join(dir, "routes.json"))
	if err != nil || !slices.Equal(again.left(), []uint32{markFor(0, 0)}) {
		t.Errorf("on disk after the retry: %#x %v", again.left(), err)
	}
}
