// Package testsupport holds what the project's tests share: small value
// helpers (Ptr, Addrs, MustJSON, WantInvalid), bounded polling (Poll,
// Eventually), the spec's example bodies (SpecBody, SpecServer,
// SpecClient) and fakes behind the interfaces the packages declare: a
// netlink handle (FakeNetlink) recording into a Transcript, and the hub
// and gateway roles (FakeHub, FakeGateway) recording into a Recorder.
//
// It is imported by tests only. It imports api and errkind, so their own
// tests reach it from outside (package api_test); a fake that needs
// another internal package stays in that package's tests, since those
// tests could not import testsupport otherwise.
package testsupport
