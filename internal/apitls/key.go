package apitls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/multilink/multilink/internal/atomicfile"
)

// keyMode is the API key file's mode: the key is the server's identity.
const keyMode = 0o600

// loadOrCreateKey returns the key in path, generating one there (mode
// 0600, written atomically and never over an existing file) if there is
// no file. An existing file that is not a key is an error, never replaced.
func loadOrCreateKey(path string, log *slog.Logger) (*ecdsa.PrivateKey, error) {
	key, err := readKey(path, log)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating API key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding API key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := atomicfile.WriteNew(path, data, keyMode); err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another process wrote one meanwhile: that one is the key.
			return readKey(path, log)
		}
		return nil, fmt.Errorf("writing API key: %w", err)
	}
	log.Info("generated the API TLS key; its pin identifies this host's API from now on", "file", path)
	return key, nil
}

// readKey reads the ECDSA key in path (PKCS#8 PEM) and makes the file
// private if it is not. A missing file is an error matching
// os.ErrNotExist.
func readKey(path string, log *slog.Logger) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading API key: %w", err)
	}
	key, why := parseKey(data)
	if why != "" {
		return nil, fmt.Errorf("API key %s is damaged (%s): remove it to have a new key generated at the next start; "+
			"that changes the API pin, and every client must then be given the new one", path, why)
	}
	if err := privateKeyFile(path, log); err != nil {
		return nil, err
	}
	return key, nil
}

// parseKey decodes a PKCS#8 PEM ECDSA private key; why says what is wrong
// with data if it is not one.
func parseKey(data []byte) (key *ecdsa.PrivateKey, why string) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, "no PEM block"
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Sprintf("PEM block %q, want \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, "data after the key"
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err.Error()
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Sprintf("a %T, not an ECDSA key", parsed)
	}
	return key, ""
}

// privateKeyFile removes group and other access from path, with a warning.
func privateKeyFile(path string, log *slog.Logger) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading API key: %w", err)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, perm&^0o077); err != nil {
		return fmt.Errorf("making API key %s private (mode %04o): %w", path, perm, err)
	}
	log.Warn("API key file was readable by others; group and other access removed", "file", path, "was", fmt.Sprintf("%04o", perm))
	return nil
}
