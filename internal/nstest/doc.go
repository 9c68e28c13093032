// Package nstest gives privileged tests their own network namespaces: a
// fresh named namespace per call, a netlink handle inside it, a way to run
// Go code and commands in it, veth pairs between two of them, and cleanup
// of all of it when the test ends, also on failure. Adopt gives the same
// helpers on a namespace made elsewhere (package topology), which its
// maker removes.
//
// Tests that need privileges or kernel features call Require: outside the
// kernel lab a missing capability or feature skips the test with its
// reason; inside the lab (MULTILINK_LAB=1) it fails it, because the lab
// promises the feature.
package nstest
