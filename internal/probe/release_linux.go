package probe

import "github.com/multilink/multilink/internal/tcattach"

// releaseAttachment leaves a's programs attached.
func releaseAttachment(a *tcattach.Attachment) error { return nil }
