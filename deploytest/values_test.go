package deploytest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// values are chart values as Helm sees them after merging (numbers are
// float64, as YAML through JSON gives them).
type values map[string]any

// loadValues reads values.yaml of chart and merges the files over it.
func loadValues(t *testing.T, chart string, files ...string) values {
	t.Helper()
	v := readValues(t, chart+"/values.yaml")
	for _, f := range files {
		merge(v, readValues(t, f))
	}
	return v
}

func readValues(t *testing.T, file string) values {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	v := values{}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// merge puts over into v as Helm does: maps merge key by key, anything
// else replaces, and null deletes.
func merge(v, over map[string]any) {
	for k, o := range over {
		if o == nil {
			delete(v, k)
			continue
		}
		om, oIsMap := o.(map[string]any)
		vm, vIsMap := v[k].(map[string]any)
		if oIsMap && vIsMap {
			merge(vm, om)
			continue
		}
		v[k] = o
	}
}

// get returns the value at a dotted path, nil when absent.
func (v values) get(path string) any {
	var cur any = map[string]any(v)
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// str returns the value at path as text: numbers without a fraction as
// integers, nil as "".
func (v values) str(path string) string {
	switch x := v.get(path).(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// num returns the whole number at path, given as number or string.
func (v values) num(t *testing.T, path string) int {
	t.Helper()
	n, err := strconv.Atoi(v.str(path))
	if err != nil {
		t.Fatalf("values %s = %q: not a whole number", path, v.str(path))
	}
	return n
}

func TestMergeValues(t *testing.T) {
	v := map[string]any{"a": map[string]any{"b": 1.0, "c": 2.0}, "d": "x", "e": []any{1.0}}
	merge(v, map[string]any{"a": map[string]any{"c": nil, "z": "3"}, "d": map[string]any{"k": "v"}, "e": []any{}})
	got := values(v)
	if got.str("a.b") != "1" || got.get("a.c") != nil || got.str("a.z") != "3" || got.str("d.k") != "v" || len(got.get("e").([]any)) != 0 {
		t.Errorf("merged: %v", v)
	}
}
