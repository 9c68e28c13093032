package tunnel

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/multilink/multilink/internal/errkind"
)

// Version is an OpenVPN release as `openvpn --version` prints it.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

var versionRE = regexp.MustCompile(`(?m)^OpenVPN (\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads the release from `openvpn --version` output.
func ParseVersion(out []byte) (Version, error) {
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return Version{}, errkind.Unsupported(nil, "no \"OpenVPN x.y\" line in version output")
	}
	var v Version
	v.Major, _ = strconv.Atoi(string(m[1]))
	v.Minor, _ = strconv.Atoi(string(m[2]))
	if len(m[3]) > 0 {
		v.Patch, _ = strconv.Atoi(string(m[3]))
	}
	return v, nil
}

// versionTimeout bounds `openvpn --version`.
const versionTimeout = 10 * time.Second

// probeOpenVPN resolves the binary and asks its version. Its exit status
// is ignored: OpenVPN 2.x exits 1 after --version. A missing binary, or
// one that does not say which OpenVPN it is, is errkind.KindUnsupported:
// this host lacks what a tunnel needs (the API answers 501).
func probeOpenVPN(ctx context.Context, name string) (string, Version, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", Version{}, errkind.Unsupported(err, "find openvpn (install OpenVPN 2.5 or later, or give --openvpn)")
	}
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "--version").Output()
	v, err := ParseVersion(out)
	if err != nil {
		return "", Version{}, fmt.Errorf("%s --version: %w", path, err)
	}
	return path, v, nil
}
