package api

// BondInfo is a bond as the kernel (or the eBPF path) has it now.
type BondInfo struct {
	Name   string     `json:"bond"`
	Driver string     `json:"driver"` // "kernel" or "ebpf"
	Up     bool       `json:"up"`
	Slaves []string   `json:"slaves"`
	Active string     `json:"active_slave"` // "" when none
	Params BondParams `json:"params"`       // every parameter, read back live
}
