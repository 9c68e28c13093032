package config

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// Hook is one entry of the config file's hooks: section: a program to run
// or a webhook to POST to on every switch or link state change
// (docs/hooks.md). Exactly one of Exec and Webhook is set.
type Hook struct {
	// Name labels the hook in metrics and logs; default "hook<index>".
	Name string `json:"name,omitempty"`
	// Exec is the program and its arguments, run without a shell; the
	// event's JSON goes to its standard input.
	Exec    []string `json:"exec,omitempty"`
	Webhook *Webhook `json:"webhook,omitempty"`
	// Events are the kinds delivered (api.EventSwitch, api.EventState);
	// default both.
	Events []string `json:"events,omitempty"`
	// TimeoutMs bounds one attempt (default DefaultHookTimeout).
	TimeoutMs int `json:"timeout_ms,omitempty"`
	// Retries is how many times a failed attempt is tried again (default
	// DefaultHookRetries; 0: never).
	Retries *int `json:"retries,omitempty"`
	// QueueSize is how many events may wait for the hook (default
	// DefaultHookQueue); a full queue drops its oldest.
	QueueSize int `json:"queue_size,omitempty"`
}

// Webhook is a hook that POSTs the event as application/json.
type Webhook struct {
	URL string `json:"url"`
	// Headers are sent with every request (not Content-Type, and not
	// Authorization together with BearerTokenFile). Their values are
	// never logged.
	Headers map[string]string `json:"headers,omitempty"`
	// BearerTokenFile holds a token sent as "Authorization: Bearer", read
	// at start.
	BearerTokenFile string `json:"bearer_token_file,omitempty"`
	// CAFile (PEM) replaces the system's CAs for an https URL.
	CAFile string `json:"ca_file,omitempty"`
}

// Hook defaults and bounds.
const (
	DefaultHookTimeout = 5 * time.Second
	MaxHookTimeout     = 5 * time.Minute
	DefaultHookRetries = 3
	MaxHookRetries     = 10
	DefaultHookQueue   = 64
	MaxHookQueue       = 4096
)

var hookName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,32}$`)

// Timeout is h's timeout per attempt.
func (h Hook) Timeout() time.Duration {
	if h.TimeoutMs == 0 {
		return DefaultHookTimeout
	}
	return time.Duration(h.TimeoutMs) * time.Millisecond
}

// Tries is how many attempts an event gets at most.
func (h Hook) Tries() int {
	if h.Retries == nil {
		return 1 + DefaultHookRetries
	}
	return 1 + *h.Retries
}

// Queue is h's queue size.
func (h Hook) Queue() int {
	if h.QueueSize == 0 {
		return DefaultHookQueue
	}
	return h.QueueSize
}

// Wants reports whether h delivers events of kind.
func (h Hook) Wants(kind string) bool {
	if len(h.Events) == 0 {
		return true
	}
	for _, k := range h.Events {
		if k == kind {
			return true
		}
	}
	return false
}

// parseHooks decodes the hooks: section, fills in the names and checks
// each hook; errors name the setting ("hooks[0].webhook.url").
func parseHooks(raw json.RawMessage) ([]Hook, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, errkind.Invalid("", "must be a list")
	}
	hooks := make([]Hook, len(items))
	names := map[string]int{}
	for i, item := range items {
		path := api.Index(i) // the file's decoder puts "hooks" before it
		// The webhook decoded on its own, so that its errors name it
		// (encoding/json names an unknown field without its path).
		var members map[string]json.RawMessage
		if err := json.Unmarshal(item, &members); err != nil || members == nil {
			return nil, errkind.Invalid(path, "must be an object")
		}
		webhook, ok := members["webhook"]
		delete(members, "webhook")
		rest, err := json.Marshal(members)
		if err != nil {
			return nil, api.Prefix(path, err)
		}
		if err := api.DecodeStrict(rest, &hooks[i]); err != nil {
			return nil, api.Prefix(path, err)
		}
		if ok {
			hooks[i].Webhook = &Webhook{}
			if err := api.DecodeStrict(webhook, hooks[i].Webhook); err != nil {
				return nil, api.Prefix(path+".webhook", err)
			}
		}
		if hooks[i].Name == "" {
			hooks[i].Name = fmt.Sprintf("hook%d", i)
		}
		if err := hooks[i].check(); err != nil {
			return nil, api.Prefix(path, err)
		}
		if j, ok := names[hooks[i].Name]; ok {
			return nil, errkind.Invalid(path+".name", "%q is also hooks%s's name", hooks[i].Name, api.Index(j))
		}
		names[hooks[i].Name] = i
	}
	return hooks, nil
}

// check validates one hook; errors name the field within it.
func (h Hook) check() error {
	if !hookName.MatchString(h.Name) {
		return errkind.Invalid("name", "%q: want 1-32 letters, digits, '_', '.' or '-'", h.Name)
	}
	switch {
	case len(h.Exec) > 0 && h.Webhook != nil:
		return errkind.Invalid("", "give exec or webhook, not both")
	case h.Exec == nil && h.Webhook == nil:
		return errkind.Invalid("", "give exec (a program and its arguments) or webhook")
	case h.Webhook != nil:
		if err := h.Webhook.check(); err != nil {
			return api.Prefix("webhook", err)
		}
	default:
		if len(h.Exec) == 0 {
			return errkind.Invalid("exec", "must name a program")
		}
		if !filepath.IsAbs(h.Exec[0]) {
			return errkind.Invalid("exec[0]", "%q: want an absolute path (no PATH lookup, no shell)", h.Exec[0])
		}
		for i, a := range h.Exec {
			if strings.ContainsRune(a, 0) {
				return errkind.Invalid("exec"+api.Index(i), "holds a NUL byte")
			}
		}
	}
	for i, k := range h.Events {
		if k != api.EventSwitch && k != api.EventState {
			return errkind.Invalid("events"+api.Index(i), "%q: want %q or %q", k, api.EventSwitch, api.EventState)
		}
	}
	if h.TimeoutMs < 0 || time.Duration(h.TimeoutMs)*time.Millisecond > MaxHookTimeout {
		return errkind.Invalid("timeout_ms", "%d: want 1-%d (0: %d)", h.TimeoutMs, MaxHookTimeout.Milliseconds(), DefaultHookTimeout.Milliseconds())
	}
	if h.Retries != nil && (*h.Retries < 0 || *h.Retries > MaxHookRetries) {
		return errkind.Invalid("retries", "%d: want 0-%d", *h.Retries, MaxHookRetries)
	}
	if h.QueueSize < 0 || h.QueueSize > MaxHookQueue {
		return errkind.Invalid("queue_size", "%d: want 1-%d (0: %d)", h.QueueSize, MaxHookQueue, DefaultHookQueue)
	}
	return nil
}

func (w Webhook) check() error {
	u, err := url.Parse(w.URL)
	switch {
	case w.URL == "":
		return errkind.Invalid("url", "missing")
	case err != nil:
		return errkind.Invalid("url", "not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return errkind.Invalid("url", "scheme %q: want http or https", u.Scheme)
	case u.Host == "":
		return errkind.Invalid("url", "no host")
	case u.User != nil:
		return errkind.Invalid("url", "holds credentials: give them in bearer_token_file or headers, which are never logged")
	}
	for name, value := range w.Headers {
		path := api.Path("headers", name)
		switch {
		case !httpguts.ValidHeaderFieldName(name):
			return errkind.Invalid(path, "not a valid header name")
		case !httpguts.ValidHeaderFieldValue(value):
			return errkind.Invalid(path, "value holds characters a header cannot carry")
		case strings.EqualFold(name, "Content-Type"):
			return errkind.Invalid(path, "always application/json")
		case strings.EqualFold(name, "Authorization") && w.BearerTokenFile != "":
			return errkind.Invalid(path, "bearer_token_file sets it")
		}
	}
	if w.BearerTokenFile != "" && !filepath.IsAbs(w.BearerTokenFile) {
		return errkind.Invalid("bearer_token_file", "%q: want an absolute path", w.BearerTokenFile)
	}
	if w.CAFile != "" {
		if !filepath.IsAbs(w.CAFile) {
			return errkind.Invalid("ca_file", "%q: want an absolute path", w.CAFile)
		}
		if u.Scheme != "https" {
			return errkind.Invalid("ca_file", "only for an https url")
		}
	}
	return nil
}
