package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilink/multilink/internal/atomicfile"
)

// TokenEnv is the environment variable that carries the API token.
const TokenEnv = "MULTILINK_API_TOKEN"

// minTokenLen keeps guessable tokens out.
const minTokenLen = 16

// apiToken decides how the API authenticates. A configured token
// (MULTILINK_API_TOKEN or --token-file) always wins: with --insecure-no-auth
// too, the flag is ignored with a warning, so a leftover flag never opens
// an API its operator meant to protect. --insecure-no-auth alone turns
// authentication off (""). Otherwise the token is the state dir's,
// generated there at the first start. A token file others can read is
// made private first (privateFile).
func apiToken(o Options, log *slog.Logger) (string, error) {
	if o.Insecure {
		if o.Token == "" && o.TokenFile == "" {
			log.Warn("API AUTHENTICATION IS OFF (--insecure-no-auth): anyone who reaches the API can reconfigure this host's network and read the link key")
			return "", nil
		}
		log.Warn("--insecure-no-auth is ignored: an API token is configured ($" + TokenEnv + " or --token-file), and the API requires it")
	}
	if o.Token == "" {
		file := o.TokenFile
		if file == "" {
			file = filepath.Join(o.StateDir, "token")
		}
		if _, err := os.Stat(file); err == nil {
			if err := privateFile(file, log); err != nil {
				return "", err
			}
		}
	}
	token, source, err := resolveToken(o.Token, o.TokenFile, o.StateDir)
	if err != nil {
		return "", err
	}

	log.Info("API token", "from", source)
	return token, nil
}

// resolveToken returns the API token: from the environment, else from
// tokenFile, else the one generated earlier into the state dir, else a new
// one written there (0600). generated reports the last case.
func resolveToken(env, tokenFile, stateDir string) (token, source string, err error) {
	if env != "" {
		return checkToken(env, TokenEnv)
	}
	if tokenFile != "" {
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", "", fmt.Errorf("read token file: %w", err)
		}
		return checkToken(strings.TrimSpace(string(data)), tokenFile)
	}
	path := filepath.Join(stateDir, "token")
	data, err := os.ReadFile(path)
	if err == nil {
		return checkToken(strings.TrimSpace(string(data)), path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("read token: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("generate token: %w", err)
	}
	token = hex.EncodeToString(b[:])
	if err := atomicfile.Write(path, []byte(token+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("write token: %w", err)
	}
	return token, path + " (generated)", nil
}

func checkToken(t, source string) (string, string, error) {
	if len(t) < minTokenLen {
		return "", "", fmt.Errorf("token from %s is shorter than %d characters", source, minTokenLen)
	}
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return "", "", fmt.Errorf("token from %s has whitespace or control characters", source)
		}
	}
	return t, source, nil
}
