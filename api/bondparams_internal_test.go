package api

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// This file tests the package's own tables from inside; the other tests
// are package api_test, so that they can use internal/testsupport, which
// imports api.

// TestBondParamKeys: every field of BondParams has its key in
// BondParamKeys, in order, and every *int field is in intParams.
func TestBondParamKeys(t *testing.T) {
	rt := reflect.TypeFor[BondParams]()
	var keys, ints []string
	field := map[string]int{} // key -> field index
	for i := range rt.NumField() {
		f := rt.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		keys = append(keys, key)
		field[key] = i
		if f.Type == reflect.TypeFor[*int]() {
			ints = append(ints, key)
		}
	}
	if !slices.Equal(keys, BondParamKeys) {
		t.Errorf("BondParamKeys %q, fields %q", BondParamKeys, keys)
	}
	var table []string
	for _, ip := range intParams {
		table = append(table, ip.key)
		var p BondParams
		*ip.ptr(&p) = new(7)
		if v := reflect.ValueOf(p).Field(field[ip.key]); v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Int() != 7 {
			t.Errorf("intParams %q points at another field", ip.key)
		}
		if ip.names != nil && (ip.min != 0 || ip.max != len(ip.names)-1) {
			t.Errorf("%s: range %d..%d for %d names", ip.key, ip.min, ip.max, len(ip.names))
		}
	}
	slices.Sort(ints)
	slices.Sort(table)
	if !slices.Equal(ints, table) {
		t.Errorf("intParams %q, *int fields %q", table, ints)
	}
	for alias, canon := range bondAliases {
		if !slices.Contains(BondParamKeys, canon) || slices.Contains(BondParamKeys, alias) {
			t.Errorf("alias %q -> %q", alias, canon)
		}
	}
}
