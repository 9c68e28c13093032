package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/multilink/multilink/internal/errkind"
)

// field decodes one member of a JSON object.
type field func(raw json.RawMessage) error

// decodeObject decodes data, which must be one JSON object and nothing
// after it, member by member. Every key must be in fields; aliases map a
// spelling to its canonical key. A key given twice (also under two
// spellings) is an error, and so is an unknown key: it is named, with the
// known ones listed.
func decodeObject(data []byte, path string, fields map[string]field, aliases map[string]string) error {
	members, err := decodeMembers(data, path)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var unknown []string
	for _, k := range keys {
		if _, ok := fields[canonical(k, aliases)]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		known := make([]string, 0, len(fields))
		for k := range fields {
			known = append(known, k)
		}
		sort.Strings(known)
		return errkind.Invalid(join(path, unknown[0]), "unknown field(s) %s (known: %s)",
			quoteAll(unknown), strings.Join(known, ", "))
	}
	seen := make(map[string]string, len(members))
	for _, k := range keys {
		canon := canonical(k, aliases)
		if prev, dup := seen[canon]; dup {
			return errkind.Invalid(join(path, canon), "given twice (as %q and %q)", prev, k)
		}
		seen[canon] = k
	}
	for _, k := range keys {
		if err := fields[canonical(k, aliases)](members[k]); err != nil {
			return prefix(join(path, k), err)
		}
	}
	return nil
}

// decodeMembers splits data, which must be one JSON object and nothing
// after it, into its members; a key given twice is an error.
func decodeMembers(data []byte, path string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, errkind.Invalid(path, "must be a JSON object: %s", jsonMsg(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errkind.Invalid(path, "must be a JSON object, not %s", kindOf(tok))
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errkind.Invalid(path, "must be a JSON object: %s", jsonMsg(err))
		}
		k, _ := tok.(string) // the decoder returns only strings in key position
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errkind.Invalid(join(path, k), "bad value: %s", jsonMsg(err))
		}
		if _, dup := members[k]; dup {
			return nil, errkind.Invalid(join(path, k), "given twice")
		}
		members[k] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, errkind.Invalid(path, "must be a JSON object: %s", jsonMsg(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errkind.Invalid(path, "trailing data after the JSON object")
	}
	return members, nil
}

func canonical(k string, aliases map[string]string) string {
	if a, ok := aliases[k]; ok {
		return a
	}
	return k
}

// kindOf names the JSON type of a token for messages.
func kindOf(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		return "an array"
	}
	return fmt.Sprintf("%T", tok)
}

// prefix puts path in front of the field an error names.
func prefix(path string, err error) error {
	var e *errkind.Error
	if errors.As(err, &e) {
		c := *e
		c.Field = join(path, c.Field)
		return &c
	}
	return errkind.Invalid(path, "%v", err)
}

// join appends key to path; a key that is an index ("[2]") or empty joins
// without a dot.
func join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	case key[0] == '[':
		return path + key
	}
	return path + "." + key
}

func index(i int) string { return "[" + strconv.Itoa(i) + "]" }

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// jsonMsg shortens encoding/json's messages to what a user needs.
func jsonMsg(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %s", se.Offset, se.Error())
	case err == io.EOF:
		return "empty input"
	case err == io.ErrUnexpectedEOF:
		return "unexpected end of input"
	}
	return err.Error()
}

// isNull reports whether raw is JSON null. Null is never a value here: a
// field is either left out or given.
func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// decodeString decodes a JSON string (numbers are not strings here).
func decodeString(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", errkind.Invalid("", "must be a string, not null (leave the field out instead)")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errkind.Invalid("", "must be a string")
	}
	return s, nil
}

// decodeFlex decodes a JSON string or number into its text form, for
// fields the spec writes as strings but users write as numbers.
func decodeFlex(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		s, err := decodeString(raw)
		return strings.TrimSpace(s), err
	}
	var n json.Number
	if isNull(raw) || json.Unmarshal(raw, &n) != nil {
		return "", errkind.Invalid("", "must be a number or a string")
	}
	return n.String(), nil
}

// decodeInt decodes a whole number in [min, max], given as number or string.
func decodeInt(raw json.RawMessage, min, max int) (int, error) {
	s, err := decodeFlex(raw)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, errkind.Invalid("", "%s is out of range %d..%d", s, min, max)
	}
	if err != nil {
		return 0, errkind.Invalid("", "%q is not a whole number", s)
	}
	if n < int64(min) || n > int64(max) {
		return 0, errkind.Invalid("", "%d is out of range %d..%d", n, min, max)
	}
	return int(n), nil
}
