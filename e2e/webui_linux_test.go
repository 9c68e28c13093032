package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/nstest"
	"github.com/multilink/multilink/internal/topology"
)

// The browser runs inside the namespace of the daemon it shows (its
// DevTools socket and its page's requests stay there): the test binary
// starts itself there as a helper (TestWebUIBrowser with these set), which
// drives Debian's chromium with chromedp and talks to the test in lines.
const (
	uiURLEnv   = "MULTILINK_UI_URL"   // the page; set only for the helper
	uiRoleEnv  = "MULTILINK_UI_ROLE"  // gateway or hub
	uiTokenEnv = "MULTILINK_UI_TOKEN" // what the operator types in
	// MULTILINK_UI_SHOTS is a directory for the pages' screenshots
	// (make screenshots: docs/ui-gateway.png, docs/ui-hub.png).
	uiShotsEnv = "MULTILINK_UI_SHOTS"
)

// chromium is Debian's browser, the one the issue names.
const chromium = "/usr/bin/chromium"

// browser is a helper running in a namespace.
type browser struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
	log *strings.Builder
}

// startBrowser starts the helper in ns on the daemon's page.
func startBrowser(t *testing.T, ns *nstest.NS, role string) *browser {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := ns.Command(ctx, self, "-test.run", "^TestWebUIBrowser$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), uiURLEnv+"=http://127.0.0.1:"+topology.APIPort+"/ui/", uiRoleEnv+"="+role, uiTokenEnv+"="+testToken)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, in: in, out: bufio.NewScanner(out), log: &strings.Builder{}}
	cmd.Stderr = b.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	return b
}

// expect reads the helper's lines until one starts with word, and
// returns the rest of it; the helper's output goes to the test's log.
func (b *browser) expect(word string) string {
	b.t.Helper()
	for b.out.Scan() {
		line := b.out.Text()
		b.log.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(line, word); ok {
			return strings.TrimSpace(rest)
		}
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") {
			break
		}
	}
	b.t.Fatalf("the browser helper did not say %s; its output:\n%s", word, b.log)
	return ""
}

func (b *browser) say(cmd string) {
	b.t.Helper()
	if _, err := fmt.Fprintln(b.in, cmd); err != nil {
		b.t.Fatalf("tell the browser %s: %v", cmd, err)
	}
}

// TestWebUI: the page of a gateway and of a hub in a real browser
// (headless Debian chromium, driven by chromedp): it loads, shows the
// links, shows a failover within 2 s of a cut, and a pin click (with the
// token typed into the page) moves traffic; unpin moves it back.
func TestWebUI(t *testing.T) {
	nstest.HostOnly(t) // a page and the API: nothing of the kernel's
	if _, err := os.Stat(chromium); err != nil {
		nstest.Require(t, false, "no %s (Debian's chromium package; .ci/deps installs it)", chromium)
	}
	tp := newTopology(t)
	hub, gw := scenario(t, tp, specClientBody(t), "ebpf")

	page := startBrowser(t, tp.gw, "gateway")
	t.Logf("gateway page: %s", page.expect("READY"))
	cut := time.Now()
	setLink(t, tp.hub, "u1", false)
	page.say("CUT")
	heard := page.expect("FAILOVER")
	took := time.Since(cut)
	t.Logf("the page showed tap2 active %s after the cut (%s after the helper heard of it)", took.Round(time.Millisecond), heard)
	if took > 2*time.Second {
		t.Errorf("the page showed the failover %s after the cut, over 2 s", took.Round(time.Millisecond))
	}
	setLink(t, tp.hub, "u1", true)
	waitActive(t, gw, "tap1", 60*time.Second)
	waitSettled(t, gw)
	page.say("PIN tap2")
	t.Logf("pin clicked: %s", page.expect("PINNED"))
	var st api.PolicyStatus
	if code := gw.call(http.MethodGet, "/v1/client/policy/bond0", nil, &st); code != http.StatusOK || st.Pin != "tap2" || st.Active != "tap2" {
		t.Errorf("after the pin click: %d, pin %q, active %q; want tap2 both", code, st.Pin, st.Active)
	}
	if got := gw.bond(t).Active; got != "tap2" {
		t.Errorf("after the pin click the bond sends on %q, want tap2", got)
	}
	pingOK(t, tp.gw, topology.HubTunnel)
	page.say("UNPIN")
	page.expect("UNPINNED")
	waitActive(t, gw, "tap1", 30*time.Second)

	hubPage := startBrowser(t, tp.hub, "hub")
	t.Logf("hub page: %s", hubPage.expect("READY"))
	_ = hub
}

// TestWebUIBrowser is the helper TestWebUI starts inside a namespace; it
// does nothing otherwise.
func TestWebUIBrowser(t *testing.T) {
	url := os.Getenv(uiURLEnv)
	if url == "" {
		t.Skip("the browser helper of TestWebUI")
	}
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	in := bufio.NewScanner(os.Stdin)
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	shot := func(name string) {
		dir := os.Getenv(uiShotsEnv)
		if dir == "" {
			return
		}
		if err := chromedp.Do(ctx, chromedp.Sleep(20*time.Second)); err != nil { // the charts have some points
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	textIs := func(sel, want string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e !== null && e.textContent.trim() === %q; })()`, sel, want),
			chromedp.WithPollingTimeout(5*time.Second), chromedp.WithPollingInterval(20*time.Millisecond))
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	// click clicks sel with the mouse; the page redraws a bond's table on
	// its refreshes, so the node found can be replaced before the click
	// lands ("Could not find node with given id"): then it finds it again,
	// a few times at most.
	click := func(sel string) error {
		var err error
		for range 5 {
			if err = chromedp.Do(ctx, chromedp.Click(css(sel))); err == nil || !strings.Contains(err.Error(), "Could not find node") {
				return err
			}
		}
		return err
	}

	if os.Getenv(uiRoleEnv) == "hub" {
		bridge := `section.bridge[data-bridge="br0"]`
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(css(bridge+` tr[data-link="tap2"]`))); err != nil {
			t.Fatalf("hub page: %v", err)
		}
		holder, err := chromedp.Run(ctx, chromedp.Text(css(bridge+` p:nth-of-type(2)`)))
		if err != nil || !strings.Contains(holder, "Held by gateway") {
			t.Fatalf("hub page says %q (%v), want the gateway that holds br0", holder, err)
		}
		shot("ui-hub.png")
		say("READY %s", holder)
		return
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(url),
		chromedp.WaitVisible(css(`section.bond[data-bond="bond0"] tr[data-link="tap2"]`)),
		textIs("#active-bond0", "tap1"),
		textIs("#stream-state", "live")); err != nil {
		t.Fatalf("gateway page: %v", err)
	}
	links, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('section.bond tr[data-link]').length`))
	if err != nil || links != 2 {
		t.Fatalf("the page shows %d links of bond0 (%v), want 2", links, err)
	}
	shot("ui-gateway.png")
	say("READY bond0 with %d links, tap1 active", links)
	for in.Scan() {
		cmd := strings.Fields(in.Text())
		if len(cmd) == 0 {
			continue
		}
		start := time.Now()
		switch cmd[0] {
		case "CUT":
			if err := chromedp.Do(ctx, textIs("#active-bond0", "tap2")); err != nil {
				t.Fatalf("after the cut: %v", err)
			}
			took := time.Since(start)
			timeline, err := chromedp.Run(ctx, chromedp.Text(css("#timeline")))
			if err != nil || !strings.Contains(timeline, "switch tap1 → tap2 (down") {
				t.Fatalf("the timeline does not show the switch (%v):\n%s", err, timeline)
			}
			say("FAILOVER %s", took.Round(time.Millisecond))
		case "PIN":
			link := cmd[1]
			if err := chromedp.Do(ctx,
				chromedp.SendKeys(css("#token"), os.Getenv(uiTokenEnv)),
				chromedp.Click(css("#token-save")),
				textIs("#token-state", "token kept for this tab")); err != nil {
				t.Fatalf("token: %v", err)
			}
			if err := click(fmt.Sprintf(`button.pin[data-link=%q]`, link)); err != nil {
				t.Fatalf("pin %s: %v", link, err)
			}
			if err := chromedp.Do(ctx, textIs("#active-bond0", link), textIs("#message", "pin bond0 to "+link+": done")); err != nil {
				t.Fatalf("pin %s: %v", link, err)
			}
			say("PINNED %s active %s after the click", link, time.Since(start).Round(time.Millisecond))
		case "UNPIN":
			if err := click(`button.unpin`); err != nil {
				t.Fatalf("unpin: %v", err)
			}
			if err := chromedp.Do(ctx, textIs("#active-bond0", "tap1")); err != nil {
				t.Fatalf("unpin: %v", err)
			}
			say("UNPINNED")
		}
	}
}
