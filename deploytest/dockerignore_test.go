package deploytest

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"testing"
)

// ignoreRule is one .dockerignore line: a pattern, or with '!' an exception.
type ignoreRule struct {
	re      *regexp.Regexp
	include bool // '!': put back what earlier rules left out
}

// dockerignore is a .dockerignore file, matched as Docker matches it
// (moby/patternmatcher): patterns are cleaned and relative to the context
// root; '*' and '?' do not cross '/', '**' crosses any number of
// directories; a rule that matches a directory matches all below it; the
// last matching rule decides.
type dockerignore []ignoreRule

func parseDockerignore(src string) (dockerignore, error) {
	var d dockerignore
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if strings.HasPrefix(line, "!") {
			r.include = true
			line = strings.TrimSpace(line[1:])
		}
		line = strings.TrimPrefix(path.Clean(line), "/")
		re, err := globRegexp(line)
		if err != nil {
			return nil, fmt.Errorf(".dockerignore line %d: %w", n+1, err)
		}
		r.re = re
		d = append(d, r)
	}
	return d, nil
}

// globRegexp turns a pattern into an anchored regular expression.
func globRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
			}
			if i+1 == len(p) {
				b.WriteString(".*")
			} else {
				b.WriteString("(.*/)?")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("pattern %q: unclosed [", p)
			}
			b.WriteString(p[i : i+j+1])
			i += j
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", p, err)
	}
	return re, nil
}

// excluded reports whether the file at rel (slash-separated, relative to
// the context root) stays out of the build context.
func (d dockerignore) excluded(rel string) bool {
	out := false
	for _, r := range d {
		if r.matches(rel) {
			out = !r.include
		}
	}
	return out
}

// matches tries rel itself, then each of its parent directories.
func (r ignoreRule) matches(rel string) bool {
	if r.re.MatchString(rel) {
		return true
	}
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if r.re.MatchString(strings.Join(parts[:i], "/")) {
			return true
		}
	}
	return false
}

func TestDockerignoreMatching(t *testing.T) {
	d, err := parseDockerignore(`
# comment
.git
/bin
**/testdata
**/*_test.go
*.md
docs/*.png
!docs/keep.png
lab
`)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{
		".git/config":               true,
		"bin/multilink":             true,
		"config/testdata/a.json":    true,
		"testdata/x":                true,
		"a/b/testdata/c/d":          true,
		"config/file_test.go":       true,
		"file_test.go":              true,
		"README.md":                 true,
		"docs/README.md":            false, // '*' does not cross '/'
		"docs/a.png":                true,
		"docs/keep.png":             false, // the exception comes last
		"docs/sub/a.png":            false,
		"lab/lab.go":                true,
		"laboratory/x.go":           false,
		"config/file.go":            false,
		"api/openapi.json":          false,
		"cmd/multilink/main.go":     false,
		"cmd/multilink-lab/main.go": false,
		"bond/bpf/probe_bpfel.o":    false,
		"tunnel/testdatas/x.go":     false,
	} {
		if got := d.excluded(rel); got != want {
			t.Errorf("excluded(%q) = %t, want %t", rel, got, want)
		}
	}
	if _, err := parseDockerignore("a[b\n"); err == nil {
		t.Error("unclosed [ was accepted")
	}
}
