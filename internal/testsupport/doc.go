// Package testsupport holds what the project's tests share: small value
// helpers, fakes behind the interfaces the packages declare, polling with
// a bound, and the spec's example bodies. It is imported by tests only.
package testsupport
