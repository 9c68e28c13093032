package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/multilink/multilink/fault"
)

// DecodeStrict decodes one JSON object into dst, refusing unknown fields
// and trailing data, with fault.KindInvalid errors that name the field.
// For bodies whose types need no string-number leniency (ours, not the
// spec's).
func DecodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return fault.Invalid(te.Field, "must be a %s, not a JSON %s", te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fault.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		}
		return fault.Invalid("", "not a valid JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.Invalid("", "data after the JSON object")
	}
	return nil
}

// Prefix puts prefix before the field an error names ("policy" +
// "hold_down_ms" = "policy.hold_down_ms").
func Prefix(prefixField string, err error) error { return prefix(prefixField, err) }
