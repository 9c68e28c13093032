package errkind

import (
	"errors"
	"fmt"
)

// Kind is what went wrong, from the caller's point of view.
type Kind int

// The kinds, each matched by its sentinel with errors.Is.
const (
	KindInternal     Kind = iota // a bug or an unexpected system error
	KindInvalid                  // the input is malformed or out of range
	KindNotFound                 // the named thing is not there
	KindConflict                 // it exists already, or is in use
	KindUnavailable              // a peer or resource cannot be reached now
	KindUnauthorized             // missing or wrong credentials
	KindUnsupported              // this host (its kernel) lacks what it needs
	KindStorage                  // what must be saved could not be (a full or failing disk)
)

// Sentinels for errors.Is.
var (
	ErrInvalid      = errors.New("invalid")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnavailable  = errors.New("unavailable")
	ErrUnauthorized = errors.New("unauthorized")
	ErrUnsupported  = errors.New("unsupported")
	ErrStorage      = errors.New("storage")
)

// Error is a classified error. Field names the input field at fault, if any.
type Error struct {
	Kind  Kind
	Field string
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		if msg == "" {
			return e.Err.Error()
		}
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's kind.
func (e *Error) Is(target error) bool {
	switch e.Kind {
	case KindInvalid:
		return target == ErrInvalid
	case KindNotFound:
		return target == ErrNotFound
	case KindConflict:
		return target == ErrConflict
	case KindUnavailable:
		return target == ErrUnavailable
	case KindUnauthorized:
		return target == ErrUnauthorized
	case KindUnsupported:
		return target == ErrUnsupported
	case KindStorage:
		return target == ErrStorage
	}
	return false
}

// Invalid reports bad input in field (may be empty).
func Invalid(field, format string, args ...any) error {
	return &Error{Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing object.
func NotFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Msg: fmt.Sprintf(format, args...)}
}

// Conflict reports an object that exists already or is in use.
func Conflict(format string, args ...any) error {
	return &Error{Kind: KindConflict, Msg: fmt.Sprintf(format, args...)}
}

// Unavailable reports a dependency that cannot be reached; err is the cause.
func Unavailable(err error, format string, args ...any) error {
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Unauthorized reports missing or wrong credentials.
func Unauthorized(format string, args ...any) error {
	return &Error{Kind: KindUnauthorized, Msg: fmt.Sprintf(format, args...)}
}

// Unsupported reports a feature this host lacks; err is the cause.
func Unsupported(err error, format string, args ...any) error {
	return &Error{Kind: KindUnsupported, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Storage reports a change that could not be saved; err is the cause.
func Storage(err error, format string, args ...any) error {
	return &Error{Kind: KindStorage, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of the first classified error in err's chain;
// failing that, the kind whose sentinel err wraps (fmt.Errorf("...: %w",
// fault.ErrUnavailable)); KindInternal when there is neither.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for _, s := range []struct {
		kind Kind
		err  error
	}{
		{KindInvalid, ErrInvalid},
		{KindNotFound, ErrNotFound},
		{KindConflict, ErrConflict},
		{KindUnavailable, ErrUnavailable},
		{KindUnauthorized, ErrUnauthorized},
		{KindUnsupported, ErrUnsupported},
		{KindStorage, ErrStorage},
	} {
		if errors.Is(err, s.err) {
			return s.kind
		}
	}
	return KindInternal
}

// FieldOf returns the field named by the first classified error in err's chain.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
