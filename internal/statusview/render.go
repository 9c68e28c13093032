package statusview

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multilink/multilink/api"
)

// Render writes s as one screen of text. now sets the ages shown ("for",
// "ago"), so a test can fix them.
func Render(w io.Writer, s Snapshot, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "multilink at %s: %s\n", s.URL, s.Health.Status)
	for _, c := range s.Health.Checks {
		if !c.OK {
			fmt.Fprintf(&b, "  ! %s: %s\n", c.Name, c.Detail)
		}
	}
	for _, warn := range s.Health.Warnings {
		fmt.Fprintf(&b, "  ! %s\n", warn)
	}
	if len(s.Bonds) == 0 && len(s.Bridges) == 0 {
		b.WriteString("\nnothing started: no gateway bond, no hub bridge\n")
	}
	for _, bond := range s.Bonds {
		renderBond(&b, bond, now)
	}
	for _, br := range s.Bridges {
		renderBridge(&b, br, now)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderBond(b *strings.Builder, bond Bond, now time.Time) {
	fmt.Fprintf(b, "\ngateway bond %s  %s  driver %s  tunnels %s  hub %s\n", bond.Bond, bond.Address, orDash(bond.Driver), orDash(bond.TunnelMode), bond.ServerAPIURL)
	if bond.Pending != "" {
		fmt.Fprintf(b, "  pending: %s\n", bond.Pending)
	}
	if f := bond.Failover; f != nil {
		pin := ""
		if f.Pin != "" {
			pin = "  (pinned by the operator)"
		}
		fmt.Fprintf(b, "  active %s%s\n", orDash(f.Active), pin)
	}
	if e := bond.LastSwitch; e != nil {
		fmt.Fprintf(b, "  last switch %s ago: %s\n", age(now, e.At), switchText(*e))
	} else if bond.Failover != nil {
		b.WriteString("  no switch since the daemon started\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  LINK\tSTATE\tFOR\tRTT\tP50\tP99\tLOSS\tTUNNEL\tWHY")
	for _, l := range bond.Links {
		name := l.Link
		if l.Active {
			name += " *"
		}
		since := "-"
		if !l.Since.IsZero() {
			since = age(now, l.Since)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\n", name, l.State, since, ms(l.RTTMs), ms(l.P50Ms), ms(l.P99Ms), 100*l.Loss, tunnelText(l), l.Reason)
	}
	tw.Flush()
}

func renderBridge(b *strings.Builder, br Bridge, now time.Time) {
	fmt.Fprintf(b, "\nhub bridge %s  %s  tunnels %s\n", br.Bridge, br.BridgeIP, orDash(br.TunnelMode))
	if br.Pending != "" {
		fmt.Fprintf(b, "  pending: %s\n", br.Pending)
	}
	if h := br.Holder; h != nil {
		fmt.Fprintf(b, "  held by gateway %s, bond %s, for %s\n", h.GatewayID, h.Bond, age(now, h.Since))
	} else {
		b.WriteString("  held by no gateway\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  LINK\tPORT\tTUNNEL\tRESTARTS\tPEER")
	for i, l := range br.Links {
		peer := "-"
		if br.Holder != nil {
			if fp := br.Holder.LinkFingerprint(i); fp != "" {
				peer = short(fp)
			}
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%d\t%s\n", l.Tap, l.Port, tunnelText(Link{Tunnel: serverTunnel(l)}), l.Restarts, peer)
	}
	tw.Flush()
}

func serverTunnel(l api.ServerLink) string {
	return tunnelState(api.ClientLink{Running: l.Running, Up: l.Up})
}

func tunnelText(l Link) string {
	if l.Restarts > 0 {
		return fmt.Sprintf("%s (%d restarts)", l.Tunnel, l.Restarts)
	}
	return l.Tunnel
}

// EventLine is one event as `multilink events` prints it.
func EventLine(e api.Event) string {
	at := e.At.Local().Format("2006-01-02 15:04:05.000")
	if e.Kind == api.EventSwitch {
		return fmt.Sprintf("%s  %s  switch  %s", at, e.Bond, switchText(e))
	}
	line := fmt.Sprintf("%s  %s  %-6s  %s %s", at, e.Bond, e.Kind, e.Link, e.State)
	if e.Detail != "" {
		line += ": " + e.Detail
	}
	return line
}

// switchText says what a switch did and why.
func switchText(e api.Event) string {
	s := fmt.Sprintf("%s -> %s (%s", orDash(e.From), orDash(e.To), orDash(e.Reason))
	if e.DetectionMs != nil {
		s += fmt.Sprintf(", detected in %.0f ms", *e.DetectionMs)
	}
	if e.SwitchMs != nil {
		s += fmt.Sprintf(", moved in %.0f ms", *e.SwitchMs)
	}
	s += ")"
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// age is how long ago t was, rounded for a screen.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func ms(v *float64) string {
	if v == nil {
		return "-"
	}
	if *v < 10 {
		return fmt.Sprintf("%.2fms", *v)
	}
	return fmt.Sprintf("%.0fms", *v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short is the start of a fingerprint: enough to tell peers apart.
func short(fp string) string {
	if len(fp) > 19 {
		return fp[:19] + "…"
	}
	return fp
}
