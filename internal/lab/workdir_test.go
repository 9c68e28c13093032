package lab

import (
	"regexp"
	"testing"
)

func TestDefaultWorkDir(t *testing.T) {
	for _, c := range []struct{ checkout, want string }{
		{"/home/dev/multilink", "/home/dev/multilink/.cache/lab"},
		{"/work/main", "/work/main/.cache/lab"},
		{"/tmpfoo/multilink", "/tmpfoo/multilink/.cache/lab"},
		{"/var/tmp/multilink", "/var/tmp/multilink/.cache/lab"},
	} {
		if got := DefaultWorkDir(c.checkout); got != c.want {
			t.Errorf("DefaultWorkDir(%q) = %q, want %q", c.checkout, got, c.want)
		}
	}

	hashed := regexp.MustCompile(`^/var/tmp/multilink-lab/[0-9a-f]{16}$`)
	a := DefaultWorkDir("/tmp/labcheck")
	if !hashed.MatchString(a) {
		t.Fatalf("DefaultWorkDir(/tmp/labcheck) = %q, want /var/tmp/multilink-lab/<hash>", a)
	}
	if b := DefaultWorkDir("/tmp/labcheck/"); b != a {
		t.Errorf("DefaultWorkDir of the same checkout: %q and %q", a, b)
	}
	if b := DefaultWorkDir("/tmp/other"); b == a || !hashed.MatchString(b) {
		t.Errorf("DefaultWorkDir(/tmp/other) = %q, want another /var/tmp/multilink-lab/<hash> than %q", b, a)
	}
	if b := DefaultWorkDir("/tmp"); !hashed.MatchString(b) {
		t.Errorf("DefaultWorkDir(/tmp) = %q, want /var/tmp/multilink-lab/<hash>", b)
	}
	if UnderTmp(a) {
		t.Errorf("default %q is under /tmp", a)
	}
}

func TestUnderTmp(t *testing.T) {
	for path, want := range map[string]bool{
		"/tmp": true, "/tmp/": true, "/tmp/x/y": true, "/tmp/../tmp/x": true,
		"/tmpfoo": false, "/var/tmp/x": false, "/": false, "/work/tmp": false,
	} {
		if got := UnderTmp(path); got != want {
			t.Errorf("UnderTmp(%q) = %t, want %t", path, got, want)
		}
	}
}
