package errkind

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, KindInternal},
		{"plain", errors.New("boom"), KindInternal},
		{"classified", Unavailable(errors.New("refused"), "reach the hub"), KindUnavailable},
		{"wrapped classified", fmt.Errorf("start: %w", Invalid("x", "bad")), KindInvalid},
		{"unsupported", fmt.Errorf("add bond: %w", Unsupported(nil, "no bonding")), KindUnsupported},
		// A sentinel wrapped by hand is classified too, not an internal error.
		{"wrapped sentinel", fmt.Errorf("hub uses cipher X: %w", ErrUnavailable), KindUnavailable},
		{"sentinel", ErrNotFound, KindNotFound},
		{"joined sentinel", errors.Join(errors.New("detail"), ErrConflict), KindConflict},
		{"each sentinel", fmt.Errorf("a: %w", ErrInvalid), KindInvalid},
		{"unauthorized", fmt.Errorf("a: %w", ErrUnauthorized), KindUnauthorized},
		{"unsupported sentinel", fmt.Errorf("a: %w", ErrUnsupported), KindUnsupported},
		{"storage", fmt.Errorf("start: %w", Storage(errors.New("no space left on device"), "save state")), KindStorage},
		{"storage sentinel", fmt.Errorf("a: %w", ErrStorage), KindStorage},
		// The first classified error wins over a sentinel deeper down.
		{"classified first", Conflict("in use: %v", fmt.Errorf("%w", ErrUnavailable)), KindConflict},
	} {
		if got := KindOf(c.err); got != c.want {
			t.Errorf("%s: KindOf(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
}

func TestErrorIsItsSentinel(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{Invalid("f", "x"), ErrInvalid},
		{NotFound("x"), ErrNotFound},
		{Conflict("x"), ErrConflict},
		{Unavailable(nil, "x"), ErrUnavailable},
		{Unauthorized("x"), ErrUnauthorized},
		{Unsupported(nil, "x"), ErrUnsupported},
		{Storage(nil, "x"), ErrStorage},
	} {
		if !errors.Is(fmt.Errorf("op: %w", c.err), c.want) {
			t.Errorf("%v is not %v", c.err, c.want)
		}
		if errors.Is(c.err, errors.New("other")) {
			t.Errorf("%v matches an unrelated error", c.err)
		}
	}
	if FieldOf(fmt.Errorf("op: %w", Invalid("bond.bond0.address", "x"))) != "bond.bond0.address" {
		t.Error("FieldOf lost the field")
	}
}
