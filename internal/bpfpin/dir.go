package bpfpin

import "path/filepath"

// Dir is the directory of one daemon instance's pins under a bpffs root:
// <root>/multilink/<instance>, instance being the owner mark's id.
func Dir(root, instance string) string {
	return filepath.Join(root, "multilink", instance)
}
