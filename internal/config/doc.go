// Package config holds the declarative shapes multilink is driven by: the
// bodies of the spec's REST API (server start, client start, bond
// parameters) and the daemon's YAML config file, which uses the same shapes.
//
// Decoding is strict and forgiving at once, as the spec's examples demand:
// unknown fields are rejected by name, numbers may be given as JSON numbers
// or as strings ("links": "2"), and the spec's spellings ("bride_interface",
// "bonding_mode") are accepted beside the canonical ones. A key given twice,
// null for a value, or anything after the object is refused. Every decoded
// value is validated before anything uses it, against the kernel's bonding
// rules too (ranges, names, which options a mode takes); errors are
// fault.KindInvalid and name the field by its path
// ("bond.bond0.slaves[1].hw_int"). A rejected body leaves the destination
// unchanged.
package config
