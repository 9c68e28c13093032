package main

import (
	"fmt"
	"regexp"
	"strings"
)

// describeRE is what git describe --tags --always --dirty prints: a tag,
// commits since it and the commit ("v1.2.0-3-gabc1234"), or the commit
// alone in a repository without tags; "-dirty" after either.
var describeRE = regexp.MustCompile(`^(?:(.+?)-(\d+)-g([0-9a-f]+)|(.+?))(-dirty)?$`)

// hashRE is a bare abbreviated commit, as --always prints it.
var hashRE = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// debVersion turns git describe's output into a Debian upstream version
// that sorts as the history does:
//
//	v1.2.0                  1.2.0
//	v1.2.0-3-gabc1234       1.2.0+git3.abc1234
//	v1.2.0-dirty            1.2.0+dirty
//	abc1234 (no tag yet)    0~gabc1234
//
// A commit without a tag, or a tag that does not start with a digit after
// its "v", gets "0~" in front (so any tagged release sorts above it); characters Debian does not
// allow become ".". The package's revision is nfpm's release ("-1").
func debVersion(describe string) (string, error) {
	d := strings.TrimSpace(describe)
	if d == "" {
		return "", fmt.Errorf("--version: empty; give git describe --tags --always --dirty")
	}
	m := describeRE.FindStringSubmatch(d)
	tag, suffix := m[4], ""
	if m[1] != "" {
		tag, suffix = m[1], "+git"+m[2]+"."+m[3]
	}
	if m[5] != "" {
		if suffix == "" {
			suffix = "+dirty"
		} else {
			suffix += ".dirty"
		}
	}
	switch {
	case m[1] == "" && hashRE.MatchString(tag):
		tag = "0~g" + tag // no tag: below any release
	case strings.HasPrefix(tag, "v"):
		tag = tag[1:]
	}
	if tag == "" || tag[0] < '0' || tag[0] > '9' {
		tag = "0~" + tag
	}
	return clean(tag) + suffix, nil
}

// clean keeps what a Debian upstream version may hold (without a hyphen:
// the revision follows the last one).
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.', r == '+', r == '~':
			return r
		}
		return '.'
	}, s)
}
