package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Step is one step of the timeline as it happened.
type Step struct {
	Name     string    `json:"step"`
	At       time.Time `json:"at"`
	Expect   string    `json:"expect"`           // the link traffic should be on afterwards
	Active   string    `json:"active_link"`      // the link it was on afterwards
	OK       bool      `json:"ok"`               // Active == Expect within the step's limit
	Reason   string    `json:"reason,omitempty"` // why the bond switched (failover events)
	SwitchMs *float64  `json:"switch_ms"`        // from the impairment (or restore) to the switch; null: no switch
	// DetectionMs is the engine's own figure: from the first sign of
	// trouble to its decision.
	DetectionMs *float64 `json:"detection_ms,omitempty"`
	// Blackouts: the longest gap in the 10 ms echo stream each way.
	BlackoutGwHubMs float64 `json:"blackout_ms_gw_to_hub"`
	BlackoutHubGwMs float64 `json:"blackout_ms_hub_to_gw"`
	// Lost: echo requests (both ways) that got no reply during the step.
	Lost int `json:"lost"`
	Sent int `json:"sent"`
}

// Summary is the demo's result.
type Summary struct {
	Driver  string `json:"bond_driver"`
	Kernel  string `json:"kernel"`
	Steps   []Step `json:"steps"`
	OK      bool   `json:"ok"` // every step ended on the expected link
	Elapsed string `json:"elapsed"`
}

// WriteJSON writes s as indented JSON.
func (s Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteText writes s as a table.
func (s Summary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\nSummary (bond driver %s, kernel %s, %s):\n\n", s.Driver, s.Kernel, s.Elapsed)
	fmt.Fprintf(w, "  %-28s %-6s %-15s %10s %10s %14s %14s %8s\n", "step", "ends", "reason", "switch", "detection", "blackout gw>hub", "blackout hub>gw", "lost")
	for _, st := range s.Steps {
		mark := "ok"
		if !st.OK {
			mark = "WRONG"
		}
		fmt.Fprintf(w, "  %-28s %-6s %-15s %10s %10s %14s %14s %8s\n", st.Name, st.Active+" "+mark, dash(st.Reason),
			msText(st.SwitchMs), msText(st.DetectionMs), fmt.Sprintf("%.0f ms", st.BlackoutGwHubMs),
			fmt.Sprintf("%.0f ms", st.BlackoutHubGwMs), fmt.Sprintf("%d/%d", st.Lost, st.Sent))
	}
	verdict := "every step ended on the expected link"
	if !s.OK {
		verdict = "SOME STEPS DID NOT END ON THE EXPECTED LINK"
	}
	fmt.Fprintf(w, "\n  %s.\n", verdict)
}

func msText(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", *v)
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func msPtr(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}
