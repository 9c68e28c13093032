package daemon

import (
	"context"

	"github.com/multilink/multilink/internal/tunnel"
)

// tapControl lets the API bring managed TAPs up and down.
type tapControl struct{ m *tunnel.Manager }

func (t tapControl) SetTap(ctx context.Context, tap string, up bool) error {
	return t.m.SetUp(ctx, tap, up)
}
