package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/multilink/multilink/internal/atomicfile"
)

// journal remembers which policy-routing marks (each a rule and a table
// of the same number) the gateway has in place, in a file of the state
// dir, so that the next daemon can remove what a crashed one left: rules
// and routes carry no owner mark of their own. An empty path keeps
// nothing (unit tests).
type journal struct {
	path  string
	mu    sync.Mutex
	marks map[uint32]bool
}

// openJournal reads the marks a previous run left in path.
func openJournal(path string) (*journal, error) {
	j := &journal{path: path, marks: map[uint32]bool{}}
	if path == "" {
		return j, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the routing journal %s: %w", path, err)
	}
	var marks []uint32
	if err := json.Unmarshal(data, &marks); err != nil {
		return nil, fmt.Errorf("the routing journal %s is damaged (%v): remove it, and any ip rule of priority %d left by hand", path, err, rulePriority)
	}
	for _, m := range marks {
		j.marks[m] = true
	}
	return j, nil
}

// left lists the marks in the journal.
func (j *journal) left() []uint32 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Sorted(maps.Keys(j.marks))
}

// set records mark as in place (in) or gone, durably.
func (j *journal) set(mark uint32, in bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.marks[mark] == in {
		return nil
	}
	if in {
		j.marks[mark] = true
	} else {
		delete(j.marks, mark)
	}
	if j.path == "" {
		return nil
	}
	marks := append([]uint32{}, slices.Sorted(maps.Keys(j.marks))...) // [] when empty, not null
	data, err := json.Marshal(marks)
	if err != nil {
		return fmt.Errorf("encode the routing journal: %w", err)
	}
	if err := atomicfile.Write(j.path, append(data, '\n'), 0o600); err != nil {
		// Not on disk: the map must not say otherwise, or the next set of
		// the same mark would skip the write.
		if in {
			delete(j.marks, mark)
		} else {
			j.marks[mark] = true
		}
		return err
	}
	return nil
}
