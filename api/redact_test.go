package api

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://192.0.2.1:3333", "http://192.0.2.1:3333"},
		{"http://user:pass@192.0.2.1:3333", "http://xxxxx@192.0.2.1:3333"},
		{"https://tok3n@hub.example:3333/x?y=1", "https://xxxxx@hub.example:3333/x?y=1"},
		{"http://us%zzer:pa@ss@192.0.2.1:3333/", "http://xxxxx@192.0.2.1:3333/"},
		{"", ""},
	} {
		got := RedactURL(c.in)
		if got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "pass") || strings.Contains(got, "tok3n") || strings.Contains(got, "pa@ss") {
			t.Errorf("RedactURL(%q) = %q keeps a credential", c.in, got)
		}
	}
}
