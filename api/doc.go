// Package api holds the wire types of multilink's REST API: the request
// and response bodies, events and status, in the spec's vocabulary
// (server = the hub's bridge, client = the gateway's bond). The HTTP
// handlers (internal/restapi), the roles (internal/hub, internal/gateway)
// and the CLI all speak these types; behaviour stays with its owners.
//
// Decoding is strict and forgiving at once, as the spec's examples demand:
// unknown fields are rejected by name, numbers may be given as JSON numbers
// or as strings ("links": "2"), and the spec's spellings ("bride_interface",
// "bonding_mode") are accepted beside the canonical ones. A key given twice,
// null for a value, or anything after the object is refused. Every decoded
// request body is validated before anything uses it, against the kernel's
// bonding rules too (ranges, names, which options a mode takes); errors
// are errkind.KindInvalid and name the field by its path
// ("bond.bond0.slaves[1].hw_int"). A rejected body leaves the destination
// unchanged. What depends on the host (interfaces present, names in use)
// is checked by the roles.
package api
