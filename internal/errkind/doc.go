// Package errkind classifies errors by what a caller should do about them:
// the request was invalid, the thing does not exist, it conflicts with what
// exists, or something it depends on cannot be reached. The API maps each
// kind to one HTTP status; every other package wraps its errors with %w so
// the kind survives.
package errkind
