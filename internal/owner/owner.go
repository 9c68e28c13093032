package owner

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilink/multilink/internal/atomicfile"
)

// instanceFile holds the state dir's instance id.
const instanceFile = "instance"

// prefix starts every mark.
const prefix = "multilink:"

// Mark is the alias that names an interface as this state dir's.
type Mark string

// Load returns the mark of the state dir, generating its instance id at
// the first start. A damaged id file is an error naming it.
func Load(stateDir string) (Mark, error) {
	path := filepath.Join(stateDir, instanceFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("generate the instance id: %w", err)
		}
		id := hex.EncodeToString(b[:])
		if err := atomicfile.WriteNew(path, []byte(id+"\n"), 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("write the instance id %s: %w", path, err)
		}
		if data, err = os.ReadFile(path); err != nil {
			return "", fmt.Errorf("read the instance id %s: %w", path, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("read the instance id %s: %w", path, err)
	}
	id := strings.TrimSpace(string(data))
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", fmt.Errorf("the instance id %s is damaged (%q): remove it only after removing the interfaces whose alias starts with %q by hand", path, id, prefix)
	}
	return Mark(prefix + id), nil
}

// Instance is the state dir's instance id alone ("" for no mark): it
// names this daemon to others (a gateway's id in its hub's claims).
func (m Mark) Instance() string { return strings.TrimPrefix(string(m), prefix) }

// Owns reports whether alias is this mark.
func (m Mark) Owns(alias string) bool { return m != "" && alias == string(m) }
