package testsupport

import (
	"errors"
	"testing"

	"github.com/multilink/multilink/internal/errkind"
)

// WantInvalid fails t unless err is an *errkind.Error of KindInvalid
// naming field, with a message.
func WantInvalid(t testing.TB, err error, field string) {
	t.Helper()
	var e *errkind.Error
	switch {
	case err == nil:
		t.Fatalf("accepted, want an error naming %q", field)
	case !errors.As(err, &e):
		t.Fatalf("error %q (%T) is not a *errkind.Error", err, err)
	case e.Kind != errkind.KindInvalid:
		t.Fatalf("kind %d, want KindInvalid: %v", e.Kind, err)
	case !errors.Is(err, errkind.ErrInvalid):
		t.Fatalf("errors.Is(ErrInvalid) false: %v", err)
	case e.Field != field:
		t.Fatalf("field %q, want %q (error %q)", e.Field, field, err)
	case e.Error() == "" || e.Msg == "" && e.Err == nil:
		t.Fatalf("error without a message: %#v", e)
	}
}
