package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/multilink/multilink/fault"
)

// field decodes one member of a JSON object.
type field func(raw json.RawMessage) error

// decodeObject decodes data, which must be a JSON object, member by member.
// Every key must be in fields; aliases map a spelling to its canonical key.
// An unknown key is an error that names it and lists the known ones.
func decodeObject(data []byte, path string, fields map[string]field, aliases map[string]string) error {
	var members map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&members); err != nil {
		return fault.Invalid(path, "must be a JSON object: %s", jsonMsg(err))
	}
	if members == nil {
		return fault.Invalid(path, "must be a JSON object, not null")
	}
	if dec.More() {
		return fault.Invalid(path, "trailing data after the JSON object")
	}
	seen := make(map[string]string, len(members))
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var unknown []string
	for _, k := range keys {
		canon := k
		if a, ok := aliases[k]; ok {
			canon = a
		}
		f, ok := fields[canon]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if prev, dup := seen[canon]; dup {
			return fault.Invalid(join(path, k), "given twice (also as %q)", prev)
		}
		seen[canon] = k
		if err := f(members[k]); err != nil {
			return prefix(join(path, k), err)
		}
	}
	if len(unknown) > 0 {
		known := make([]string, 0, len(fields))
		for k := range fields {
			known = append(known, k)
		}
		sort.Strings(known)
		return fault.Invalid(path, "unknown field(s) %s (known: %s)",
			quoteAll(unknown), strings.Join(known, ", "))
	}
	return nil
}

// prefix puts path in front of the field an error names.
func prefix(path string, err error) error {
	if e, ok := err.(*fault.Error); ok {
		c := *e
		if c.Field == "" {
			c.Field = path
		} else if !strings.HasPrefix(c.Field, path) {
			c.Field = join(path, c.Field)
		}
		return &c
	}
	return fault.Invalid(path, "%v", err)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

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
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d: %s", se.Offset, se.Error())
	}
	return err.Error()
}

// decodeString decodes a JSON string (numbers are not strings here).
func decodeString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fault.Invalid("", "must be a string")
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
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fault.Invalid("", "must be a number or a string")
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
	if err != nil {
		return 0, fault.Invalid("", "%q is not a whole number", s)
	}
	if n < int64(min) || n > int64(max) {
		return 0, fault.Invalid("", "%d is out of range %d..%d", n, min, max)
	}
	return int(n), nil
}
