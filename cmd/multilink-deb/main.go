package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "multilink-deb:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("multilink-deb", flag.ContinueOnError)
	config := fs.String("config", "packaging/nfpm.yaml", "nfpm config")
	arch := fs.String("arch", "", "Debian architecture: amd64 or arm64")
	binary := fs.String("binary", "", "the multilink binary built for --arch")
	describe := fs.String("version", "", "the version, as git describe --tags --always --dirty prints it")
	out := fs.String("out", "dist", "directory the .deb is written to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *arch != "amd64" && *arch != "arm64" {
		return fmt.Errorf("--arch %q: want amd64 or arm64", *arch)
	}
	if *binary == "" {
		return errors.New("--binary: give the multilink binary for --arch")
	}
	version, err := debVersion(*describe)
	if err != nil {
		return err
	}
	path, err := build(*config, *out, map[string]string{"DEB_ARCH": *arch, "DEB_VERSION": version, "MULTILINK_BINARY": *binary})
	if err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// build writes the package the config describes, its ${VARS} taken from
// vars only, to dir/<name>_<version>_<arch>.deb, and returns the path.
func build(config, dir string, vars map[string]string) (string, error) {
	cfg, err := nfpm.ParseFileWithEnvMapping(config, func(k string) string { return vars[k] })
	if err != nil {
		return "", fmt.Errorf("read %s: %w", config, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return "", fmt.Errorf("read %s: %w", config, err)
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("check %s: %w", config, err)
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	// multilink_<version>_<arch>.deb: the name make deb promises (nfpm's
	// conventional one adds the release).
	path := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", info.Name, info.Version, info.Arch))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("build %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}
