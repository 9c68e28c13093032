package api

// Error is every error answer.
type Error struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}
