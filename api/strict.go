package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"

	"github.com/multilink/multilink/internal/errkind"
)

// DecodeStrict decodes one JSON object into dst, refusing unknown fields
// and trailing data, with errkind.KindInvalid errors that name the field.
// For bodies whose types need no string-number leniency (ours, not the
// spec's).
func DecodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return errkind.Invalid(te.Field, "must be %s, not a JSON %s", jsonKind(te.Type), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return errkind.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		}
		return errkind.Invalid("", "not a valid JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errkind.Invalid("", "data after the JSON object")
	}
	return nil
}

// jsonKind names a Go type the way a JSON user knows it.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// Prefix puts prefix before the field an error names ("policy" +
// "hold_down_ms" = "policy.hold_down_ms").
func Prefix(prefixField string, err error) error { return prefix(prefixField, err) }

// DecodeObject decodes data, which must be one JSON object, member by
// member with the API bodies' rules: every key must be in fields, a key
// given twice or an unknown one is an error naming it. It lets a document
// made of API bodies (the daemon's config file) decode them alike.
func DecodeObject(data []byte, fields map[string]func(json.RawMessage) error) error {
	fs := make(map[string]field, len(fields))
	for k, f := range fields {
		fs[k] = f
	}
	return decodeObject(data, "", fs, nil)
}

// Path joins a field path and a key or index ("servers" + "[1]" =
// "servers[1]", "bond" + "bond0" = "bond.bond0"), as errors name fields.
func Path(path, key string) string { return join(path, key) }

// Index is a list index as a path names it: "[i]".
func Index(i int) string { return index(i) }
