package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/multilink/multilink/internal/apitls"
	"github.com/multilink/multilink/internal/daemon"
)

const fingerprintUsage = `usage: multilink fingerprint [--state-dir DIR | --tls-cert FILE]

Prints the pin of the API's TLS key (sha256//<base64>): the value a
gateway's server_api_pin takes, and what curl's --pinnedpubkey checks.
Without --tls-cert it is the state dir's key, made now if the daemon has
not made it yet (the daemon will use it).

flags:
`

func fingerprintCommand() command {
	return command{name: "fingerprint", summary: "print the pin of the API's TLS key (a gateway's server_api_pin)", usage: fingerprintUsage, setup: fingerprintFlags}
}

func fingerprintFlags(fs *flag.FlagSet) action {
	stateDir := fs.String("state-dir", daemon.DefaultStateDir, "the daemon's state directory")
	certFile := fs.String("tls-cert", "", "a PEM certificate (the daemon's --tls-cert) instead of the state dir's")
	return func(args []string, stdout, _ io.Writer) error {
		if err := noArgs("fingerprint", args); err != nil {
			return err
		}
		pin, err := fingerprint(*stateDir, *certFile)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, pin)
		return err
	}
}

// fingerprint is the pin of certFile's key, or of the state dir's API key.
func fingerprint(stateDir, certFile string) (string, error) {
	if certFile != "" {
		data, err := os.ReadFile(certFile)
		if err != nil {
			return "", fmt.Errorf("read --tls-cert: %w", err)
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" {
			return "", fmt.Errorf("--tls-cert %s holds no PEM certificate", certFile)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("--tls-cert %s: %w", certFile, err)
		}
		return apitls.PinOfCert(cert), nil
	}
	dir := filepath.Join(stateDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	src, err := apitls.Load(context.Background(), apitls.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", err
	}
	return src.Pin(), nil
}
