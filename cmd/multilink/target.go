package main

import (
	"errors"
	"flag"
	"os"

	"github.com/multilink/multilink/internal/apiclient"
	"github.com/multilink/multilink/internal/daemon"
)

// target is which daemon a client command talks to: the local one, found
// in its state dir, or one at --url.
type target struct {
	stateDir  string
	url       string
	pin       string
	tokenFile string
}

func (t *target) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.stateDir, "state-dir", daemon.DefaultStateDir, "the local daemon's state directory: its address, pin and token are read there")
	fs.StringVar(&t.url, "url", "", "a daemon's API instead of the local one: https://host:port (with --pin for a self-signed key)")
	fs.StringVar(&t.pin, "pin", "", "with --url: the pin of the daemon's TLS key, sha256//... (multilink fingerprint on its host); without it, the system's CAs")
	fs.StringVar(&t.tokenFile, "token-file", "", "file holding the API token (default: $"+daemon.TokenEnv+", else the local daemon's)")
}

// client connects as t says.
func (t *target) client() (*apiclient.Client, error) {
	o := apiclient.Options{URL: t.url, Pin: t.pin, Token: os.Getenv(daemon.TokenEnv)}
	if t.url == "" {
		if t.pin != "" {
			return nil, usagef("--pin needs --url (the local daemon's pin is read from its state dir)")
		}
		ep, err := daemon.ReadEndpoint(t.stateDir)
		if err != nil {
			return nil, err
		}
		o.URL, o.Pin = ep.URL, ep.Pin
		if o.Token == "" {
			file := t.tokenFile
			if file == "" {
				file = ep.TokenFile
			}
			tok, err := daemon.ReadToken(t.stateDir, file)
			if err != nil && !errors.Is(err, os.ErrPermission) {
				return nil, err
			}
			o.Token = tok
		}
	} else if o.Token == "" && t.tokenFile != "" {
		tok, err := daemon.ReadToken("", t.tokenFile)
		if err != nil {
			return nil, err
		}
		o.Token = tok
	}
	c, err := apiclient.New(o)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}
