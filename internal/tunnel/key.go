package tunnel

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/multilink/multilink/internal/atomicfile"
	"github.com/multilink/multilink/internal/errkind"
)

// The OpenVPN static key V1 format: a header, 16 lines of 32 hex digits
// (256 bytes of key material) and a footer.
const (
	keyBegin    = "-----BEGIN OpenVPN Static key V1-----"
	keyEnd      = "-----END OpenVPN Static key V1-----"
	keyBytes    = 256
	keyLineLen  = 32 // hex digits per line
	keyLines    = keyBytes * 2 / keyLineLen
	maxKeySize  = 4096 // a key is about 600 bytes; room for openvpn's comment header
	maxComments = 16
)

// GenerateKey writes a new random static key to path (mode 0600) unless a
// valid one is there already, which it keeps. The file appears atomically
// and is never overwritten: two concurrent calls agree on one key.
func GenerateKey(path string) error {
	if err := checkKeyFile(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("generate key %s: %w", path, err)
	}
	var raw [keyBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("generate key %s: %w", path, err)
	}
	// WriteNew never clobbers a key that appeared meanwhile.
	if err := atomicfile.WriteNew(path, formatKey(raw[:]), 0o600); err != nil {
		if errors.Is(err, os.ErrExist) {
			if err := checkKeyFile(path); err != nil {
				return fmt.Errorf("generate key %s: %w", path, err)
			}
			return nil
		}
		return fmt.Errorf("generate key %s: %w", path, err)
	}
	return nil
}

// checkKeyFile returns nil when path holds a valid key (and makes it 0600),
// an error matching os.ErrNotExist when there is no file, and a
// errkind.Conflict error when a file is there but is not a key.
func checkKeyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := ParseKey(data); err != nil {
		return errkind.Conflict("%s exists but is not a static key: %v", path, err)
	}
	return os.Chmod(path, 0o600)
}

// ParseKey validates an OpenVPN static key V1: optional '#' comment lines
// (as `openvpn --genkey` writes them), the header, 16 lines of 32 hex
// digits, the footer, and at most one final newline. Anything else,
// including more than maxKeySize bytes, is an errkind.Invalid error.
func ParseKey(data []byte) error {
	if len(data) > maxKeySize {
		return errkind.Invalid("key", "is %d bytes, more than %d", len(data), maxKeySize)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	i := 0
	for ; i < len(lines) && bytes.HasPrefix(lines[i], []byte("#")); i++ {
		if i == maxComments {
			return errkind.Invalid("key", "more than %d comment lines", maxComments)
		}
		if !printable(lines[i]) {
			return errkind.Invalid("key", "line %d: comment has non-printable bytes", i+1)
		}
	}
	lines = lines[i:]
	if len(lines) != keyLines+2 {
		return errkind.Invalid("key", "has %d lines after comments, want %d", len(lines), keyLines+2)
	}
	if string(lines[0]) != keyBegin {
		return errkind.Invalid("key", "line %d: want %q", i+1, keyBegin)
	}
	if string(lines[len(lines)-1]) != keyEnd {
		return errkind.Invalid("key", "line %d: want %q", i+len(lines), keyEnd)
	}
	for j, l := range lines[1 : len(lines)-1] {
		if len(l) != keyLineLen || !isHex(l) {
			return errkind.Invalid("key", "line %d: want %d hex digits", i+j+2, keyLineLen)
		}
	}
	return nil
}

// WriteKey validates data with ParseKey and writes it to path (mode 0600)
// atomically, replacing any earlier key.
func WriteKey(path string, data []byte) error {
	if err := ParseKey(data); err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}

func formatKey(raw []byte) []byte {
	var b bytes.Buffer
	b.WriteString(keyBegin + "\n")
	h := hex.EncodeToString(raw)
	for i := 0; i < len(h); i += keyLineLen {
		b.WriteString(h[i:i+keyLineLen] + "\n")
	}
	b.WriteString(keyEnd + "\n")
	return b.Bytes()
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// NewKey returns a new random static key in OpenVPN's file format.
func NewKey() ([]byte, error) {
	var raw [keyBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return formatKey(raw[:]), nil
}
