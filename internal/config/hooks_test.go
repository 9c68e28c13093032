package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseHooks(t *testing.T) {
	f, err := ParseFile([]byte(`
hooks:
  - exec: [/usr/local/bin/on-event, --site, north]
    events: [switch]
    timeout_ms: 2000
    retries: 0
  - name: pager
    webhook:
      url: https://hooks.example/multilink
      headers: {X-Site: north}
      bearer_token_file: /etc/multilink/hook-token
      ca_file: /etc/multilink/hook-ca.pem
    queue_size: 8
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Hooks) != 2 {
		t.Fatalf("hooks %+v", f.Hooks)
	}
	a, b := f.Hooks[0], f.Hooks[1]
	if a.Name != "hook0" || len(a.Exec) != 3 || a.Timeout() != 2*time.Second || a.Tries() != 1 || a.Queue() != DefaultHookQueue ||
		!a.Wants("switch") || a.Wants("state") {
		t.Errorf("hooks[0] %+v", a)
	}
	if b.Name != "pager" || b.Webhook == nil || b.Webhook.Headers["X-Site"] != "north" || b.Timeout() != DefaultHookTimeout ||
		b.Tries() != 1+DefaultHookRetries || b.Queue() != 8 || !b.Wants("switch") || !b.Wants("state") {
		t.Errorf("hooks[1] %+v", b)
	}
}

// Every bad hook is refused with the path of the bad setting.
func TestParseHooksErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`hooks: {exec: [/bin/true]}`, "hooks: must be a list"},
		{`hooks: [{}]`, "hooks[0]: give exec"},
		{`hooks: [{exec: [/bin/true], webhook: {url: "http://x"}}]`, "hooks[0]: give exec or webhook, not both"},
		{`hooks: [{exec: []}]`, "hooks[0].exec: must name a program"},
		{`hooks: [{exec: [bin/true]}]`, "hooks[0].exec[0]: \"bin/true\": want an absolute path"},
		{`hooks: [{exec: [/bin/true], events: [switch, up]}]`, "hooks[0].events[1]"},
		{`hooks: [{exec: [/bin/true], timeout_ms: -1}]`, "hooks[0].timeout_ms"},
		{`hooks: [{exec: [/bin/true], timeout_ms: 300001}]`, "hooks[0].timeout_ms"},
		{`hooks: [{exec: [/bin/true], retries: 11}]`, "hooks[0].retries"},
		{`hooks: [{exec: [/bin/true], queue_size: 5000}]`, "hooks[0].queue_size"},
		{`hooks: [{exec: [/bin/true], queue: 5}]`, "hooks[0].queue: unknown field"},
		{`hooks: [{exec: /bin/true}]`, "hooks[0].exec: must be an array"},
		{`hooks: [{exec: [/bin/true], name: "a b"}]`, "hooks[0].name"},
		{`hooks: [{exec: [/bin/true], name: x}, {exec: [/bin/true], name: x}]`, `hooks[1].name: "x" is also hooks[0]'s name`},
		{`hooks: [{exec: [/bin/true]}, {webhook: {}}]`, "hooks[1].webhook.url: missing"},
		{`hooks: [{webhook: {url: "ftp://x"}}]`, "hooks[0].webhook.url: scheme"},
		{`hooks: [{webhook: {url: "https://"}}]`, "hooks[0].webhook.url: no host"},
		{`hooks: [{webhook: {url: "https://u:p@x"}}]`, "hooks[0].webhook.url: holds credentials"},
		{`hooks: [{webhook: {url: "https://x", headers: {"a b": c}}}]`, "hooks[0].webhook.headers.a b"},
		{`hooks: [{webhook: {url: "https://x", headers: {X-A: "a\nb"}}}]`, "hooks[0].webhook.headers.X-A"},
		{`hooks: [{webhook: {url: "https://x", headers: {content-type: text/plain}}}]`, "hooks[0].webhook.headers.content-type"},
		{`hooks: [{webhook: {url: "https://x", headers: {Authorization: x}, bearer_token_file: /t}}]`, "hooks[0].webhook.headers.Authorization"},
		{`hooks: [{webhook: {url: "https://x", bearer_token_file: t}}]`, "hooks[0].webhook.bearer_token_file"},
		{`hooks: [{webhook: {url: "http://x", ca_file: /ca.pem}}]`, "hooks[0].webhook.ca_file: only for an https url"},
		{`hooks: [{webhook: {url: "https://x", token: y}}]`, "hooks[0].webhook.token: unknown field"},
	} {
		_, err := ParseFile([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.want)
		}
	}
}
