package deploytest

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pinned is an image reference with a tag and a sha256 digest.
var pinned = regexp.MustCompile(`^[a-z0-9./_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$`)

// imagePath is the PATH of the Debian images the final stage uses.
var imagePath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// TestDockerfile checks the Dockerfile against the tree and the binary,
// which is what a `docker build` and a `docker run` would find out late.
func TestDockerfile(t *testing.T) {
	stages, ignore := readDockerfile(t)
	final := stages[len(stages)-1]

	t.Run("bases pinned by digest", func(t *testing.T) {
		var names []string
		for _, st := range stages {
			if !slices.Contains(names, st.Base) && !pinned.MatchString(st.Base) {
				t.Errorf("FROM %s: want image:tag@sha256:<64 hex>", st.Base)
			}
			names = append(names, st.Name)
		}
	})

	files := contextFiles(t, repoRoot, ignore)
	build, out := goBuildStage(t, stages)

	t.Run("COPY sources in context", func(t *testing.T) {
		for _, st := range stages {
			for _, cp := range append(st.find("COPY"), st.find("ADD")...) {
				if cp.Flags["from"] != "" {
					continue
				}
				for _, src := range cp.Args[:len(cp.Args)-1] {
					if !coversAny([]string{src}, files) {
						t.Errorf("line %d: %s %s: nothing in the build context (missing, or left out by .dockerignore)", cp.Line, cp.Cmd, src)
					}
				}
			}
		}
	})

	t.Run("build inputs in context and copied", func(t *testing.T) {
		var srcs []string
		for _, cp := range build.find("COPY") {
			if cp.Flags["from"] == "" {
				srcs = append(srcs, cp.Args[:len(cp.Args)-1]...)
			}
		}
		for _, arch := range []string{"amd64", "arm64"} {
			for _, f := range buildInputs(t, repoRoot, "./cmd/multilink", arch) {
				switch {
				case !files[f]:
					t.Errorf("%s (%s build): not in the build context; check .dockerignore", f, arch)
				case !coversAny(srcs, map[string]bool{f: true}):
					t.Errorf("%s (%s build): no COPY of stage %q takes it in", f, arch, build.Name)
				}
			}
		}
	})

	bin := buildDaemon(t)
	flags := daemonFlags(t, bin)
	ep := final.find("ENTRYPOINT")
	cmd := final.find("CMD")
	if len(ep) != 1 || !ep[0].JSON || len(cmd) > 1 {
		t.Fatalf("want one JSON-form ENTRYPOINT and at most one CMD in the final stage, got %d and %d", len(ep), len(cmd))
	}
	args := ep[0].Args
	if len(cmd) == 1 {
		if !cmd[0].JSON {
			t.Errorf("line %d: CMD in shell form would run under sh -c; use the JSON form", cmd[0].Line)
		}
		args = append(slices.Clone(args), cmd[0].Args...)
	}

	t.Run("ENTRYPOINT runs the built binary", func(t *testing.T) {
		var dest string
		for _, cp := range final.find("COPY") {
			if cp.Flags["from"] == build.Name && slices.Contains(cp.Args[:len(cp.Args)-1], out) {
				dest = cp.Args[len(cp.Args)-1]
				if strings.HasSuffix(dest, "/") {
					dest += path.Base(out)
				}
			}
		}
		if dest == "" {
			t.Fatalf("the final stage copies no %s from stage %q (the go build output)", out, build.Name)
		}
		exe := args[0]
		ok := exe == dest || !strings.Contains(exe, "/") && path.Base(dest) == exe && slices.Contains(imagePath, path.Dir(dest))
		if !ok {
			t.Errorf("ENTRYPOINT runs %q, but the binary is copied to %s", exe, dest)
		}
		if len(args) < 2 || args[1] != "daemon" {
			t.Errorf("ENTRYPOINT/CMD %q: want the daemon command", args)
		}
	})

	var given map[string]string
	t.Run("flags known to the daemon", func(t *testing.T) {
		var err error
		if given, err = checkArgs(flags, args[2:]); err != nil {
			t.Error(err)
		}
	})

	t.Run("HEALTHCHECK asks /health on the listen port", func(t *testing.T) {
		hc := final.find("HEALTHCHECK")
		if len(hc) != 1 || !hc[0].JSON || len(hc[0].Args) == 0 {
			t.Fatalf("want one JSON-form HEALTHCHECK CMD, got %+v", hc)
		}
		var u *url.URL
		for _, a := range hc[0].Args {
			if p, err := url.Parse(a); err == nil && p.Scheme == "http" {
				u = p
			}
		}
		if u == nil || u.Path != "/health" || u.Hostname() != "127.0.0.1" {
			t.Fatalf("HEALTHCHECK %q: want http://127.0.0.1:<port>/health", hc[0].Args)
		}
		if want := listenPort(flags, given); u.Port() != want {
			t.Errorf("HEALTHCHECK asks port %s, the daemon listens on %s", u.Port(), want)
		}
		if !installs(final, hc[0].Args[0]) {
			t.Errorf("HEALTHCHECK runs %s, which no RUN of the final stage installs", hc[0].Args[0])
		}
	})

	t.Run("VOLUME and EXPOSE match the flags", func(t *testing.T) {
		state := given["state-dir"]
		if state == "" {
			state = flags["state-dir"].def
		}
		var vols, ports []string
		for _, in := range final.find("VOLUME") {
			vols = append(vols, in.Args...)
		}
		for _, in := range final.find("EXPOSE") {
			ports = append(ports, in.Args...)
		}
		if !slices.Contains(vols, state) {
			t.Errorf("VOLUME %q: want the state dir %s, which must outlive the container", vols, state)
		}
		if want := listenPort(flags, given) + "/tcp"; !slices.Contains(ports, want) {
			t.Errorf("EXPOSE %q: want %s, the API port", ports, want)
		}
	})

	t.Run("OpenVPN installed", func(t *testing.T) {
		if !installs(final, "openvpn") {
			t.Error("no RUN of the final stage installs openvpn, which the daemon runs per link")
		}
	})
}

// readDockerfile parses the Dockerfile and .dockerignore at the repo root.
func readDockerfile(t *testing.T) ([]stage, dockerignore) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(src))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	ign, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := parseDockerignore(string(ign))
	if err != nil {
		t.Fatal(err)
	}
	return stages, ignore
}

// goBuildStage finds the stage whose RUN builds ./cmd/multilink and the
// path its -o writes.
func goBuildStage(t *testing.T, stages []stage) (stage, string) {
	t.Helper()
	for _, st := range stages {
		for _, run := range st.find("RUN") {
			i := slices.Index(run.Args, "build")
			if i < 1 || run.Args[i-1] != "go" || !slices.Contains(run.Args, "./cmd/multilink") {
				continue
			}
			if o := slices.Index(run.Args, "-o"); o > 0 && o+1 < len(run.Args) && st.Name != "" {
				return st, run.Args[o+1]
			}
			t.Fatalf("line %d: go build needs -o <path> in a named stage (FROM ... AS name)", run.Line)
		}
	}
	t.Fatal("no RUN go build ... ./cmd/multilink in the Dockerfile")
	return stage{}, ""
}

func coversAny(srcs []string, files map[string]bool) bool {
	for f := range files {
		for _, s := range srcs {
			if covers(s, f) {
				return true
			}
		}
	}
	return false
}

// installs reports whether a RUN of st names pkg as a word (apt-get install pkg).
func installs(st stage, pkg string) bool {
	for _, run := range st.find("RUN") {
		if slices.Contains(run.Args, pkg) {
			return true
		}
	}
	return false
}
