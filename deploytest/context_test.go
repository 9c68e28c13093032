package deploytest

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// contextFiles returns the files of the build context rooted at root that
// d lets in, slash-separated and relative to root.
func contextFiles(t *testing.T, root string, d dockerignore) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			return nil
		case e.IsDir() && d.excluded(rel) && !d.hasExceptions():
			return filepath.SkipDir
		case !e.IsDir() && !d.excluded(rel):
			files[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk build context: %v", err)
	}
	return files
}

// hasExceptions reports whether some rule puts files back, in which case
// an excluded directory may still hold files that get in.
func (d dockerignore) hasExceptions() bool {
	for _, r := range d {
		if r.include {
			return true
		}
	}
	return false
}

// covers reports whether a COPY source (a path or glob relative to the
// context root, "." for all of it) takes in the file rel.
func covers(src, rel string) bool {
	src = strings.TrimPrefix(path.Clean(src), "/")
	if src == "." {
		return true
	}
	if ok, _ := path.Match(src, rel); ok || rel == src || strings.HasPrefix(rel, src+"/") {
		return true
	}
	// A glob that matches a parent directory takes the whole directory.
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		if ok, _ := path.Match(src, dir); ok {
			return true
		}
	}
	return false
}

// goPackage is the part of `go list -json` output buildInputs reads.
type goPackage struct {
	Dir        string
	Module     *struct{ Main bool }
	GoFiles    []string
	CgoFiles   []string
	SFiles     []string
	HFiles     []string
	SysoFiles  []string
	EmbedFiles []string
}

// buildInputs returns the files of this module that building pkg for
// linux/goarch reads, relative to root: go.mod, go.sum and each package's
// Go, assembly and embedded files.
func buildInputs(t *testing.T, root, pkg, goarch string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s (%s): %v", pkg, goarch, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		dir, err := filepath.Rel(abs, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.SysoFiles, p.EmbedFiles} {
			for _, f := range list {
				files = append(files, filepath.ToSlash(filepath.Join(dir, f)))
			}
		}
	}
	return files
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		src, rel string
		want     bool
	}{
		{".", "a/b.go", true},
		{"./", "a/b.go", true},
		{"go.mod", "go.mod", true},
		{"go.mod", "go.sum", false},
		{"api", "api/openapi.json", true},
		{"api/", "api/x/y.go", true},
		{"ap", "api/x.go", false},
		{"*.go", "main.go", true},
		{"*.go", "a/main.go", false},
		{"c*", "cmd/multilink/main.go", true},
	} {
		if got := covers(c.src, c.rel); got != c.want {
			t.Errorf("covers(%q, %q) = %t, want %t", c.src, c.rel, got, c.want)
		}
	}
}
