package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFailoverAPI: with each driver, the probe's figures, the failover
// events, the metrics and the policy endpoint show what really happens
// when the primary is cut, and a pin moves traffic.
func TestFailoverAPI(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			tp := newTopology(t)
			_, gw := scenario(t, tp, specClientBody(t), driver)

			var links []struct {
				Link   string `json:"link"`
				Active bool   `json:"active"`
				RTT    struct {
					Smoothed *float64 `json:"smoothed_ms"`
				} `json:"rtt"`
				Counters struct {
					ProbeReplies uint64 `json:"probe_replies"`
				} `json:"counters"`
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				if code := gw.callAuth(http.MethodGet, "/v1/client/links", nil, &links, false); code != http.StatusOK {
					t.Fatalf("links: %d", code)
				}
				if len(links) == 2 && links[0].RTT.Smoothed != nil && links[1].RTT.Smoothed != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("links without RTTs after 20 s: %+v", links)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if links[0].Link != "tap1" || !links[0].Active || links[1].Active {
				t.Errorf("links %+v: want tap1 probed as the active one", links)
			}

			cut := time.Now()
			setLink(t, tp.hub, "u1", false)
			waitActive(t, gw, "tap2", 30*time.Second)
			var events []struct {
				Kind        string  `json:"kind"`
				From        string  `json:"from"`
				To          string  `json:"to"`
				Reason      string  `json:"reason"`
				DetectionMs float64 `json:"detection_ms"`
			}
			if code := gw.callAuth(http.MethodGet, "/v1/client/events?bond=bond0", nil, &events, false); code != http.StatusOK {
				t.Fatalf("events: %d", code)
			}
			var sw []string
			for _, e := range events {
				if e.Kind == "switch" {
					sw = append(sw, e.From+">"+e.To+":"+e.Reason)
				}
			}
			if len(sw) == 0 || sw[len(sw)-1] != "tap1>tap2:down" {
				t.Errorf("switch events %v, want the last one tap1>tap2:down", sw)
			}
			t.Logf("switched to tap2 %v after the cut; events %v", time.Since(cut), sw)

			metrics := scrape(t, gw)
			for _, want := range []string{
				`multilink_failovers_total{bond="bond0",reason="down"} 1`,
				`multilink_active_link{bond="bond0",link="tap2"} 1`,
				`multilink_link_state{bond="bond0",link="tap1",state="down"} 1`,
				`multilink_bond_info{bond="bond0",driver="` + driver + `"} 1`,
				`multilink_link_rtt_seconds_bucket{bond="bond0",link="tap2",le="+Inf"}`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}

			// A pin moves traffic, even to a link that is down, until released.
			setLink(t, tp.hub, "u1", true)
			waitActive(t, gw, "tap1", 30*time.Second)
			if code := gw.call(http.MethodPut, "/v1/client/policy/bond0", []byte(`{"pin": "tap2", "policy": {"hold_down_ms": 500}}`), nil); code != http.StatusOK {
				t.Fatalf("pin: %d", code)
			}
			waitActive(t, gw, "tap2", 10*time.Second)
			pingOK(t, tp.gw, "10.8.0.254")
			pingOK(t, tp.hub, "10.8.0.253")
			var pol struct {
				Pin    string `json:"pin"`
				Policy struct {
					HoldDownMs float64 `json:"hold_down_ms"`
				} `json:"policy"`
			}
			gw.callAuth(http.MethodGet, "/v1/client/policy/bond0", nil, &pol, false)
			if pol.Pin != "tap2" || pol.Policy.HoldDownMs != 500 {
				t.Errorf("policy after PUT: %+v", pol)
			}
			if code := gw.call(http.MethodPut, "/v1/client/policy/bond0", []byte(`{"pin": "", "probe_interval_ms": "fast"}`), nil); code != http.StatusBadRequest {
				t.Errorf("bad policy: %d, want 400", code)
			}
			if code := gw.call(http.MethodPut, "/v1/client/policy/bond0", []byte(`{"pin": ""}`), nil); code != http.StatusOK {
				t.Fatalf("release: %d", code)
			}
			waitActive(t, gw, "tap1", 10*time.Second)
		})
	}
}

// scrape returns the daemon's /metrics text.
func scrape(t *testing.T, d *daemon) string {
	t.Helper()
	resp, err := d.do(http.MethodGet, "/metrics", nil, false)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(body)
}
