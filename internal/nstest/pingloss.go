package nstest

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// PingLoss pings to from n every 10 ms, 300 times (about 3 s), runs during
// after the first second, and returns how many requests got no reply: a
// hand-over under traffic, measured with ping's own count.
func (n *NS) PingLoss(t testing.TB, to string, during func()) int {
	t.Helper()
	const count = 300
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := n.Command(ctx, "ping", "-n", "-q", "-i", "0.01", "-c", strconv.Itoa(count), "-W", "1", to)
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := cmd.CombinedOutput()
		done <- result{out, err}
	}()
	time.Sleep(time.Second) // the stream runs on the old state first
	during()
	res := <-done
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindSubmatch(res.out)
	if m == nil {
		t.Fatalf("ping stream: %v\n%s", res.err, res.out)
	}
	sent, _ := strconv.Atoi(string(m[1]))
	got, _ := strconv.Atoi(string(m[2]))
	if sent != count {
		t.Fatalf("ping stream sent %d of %d\n%s", sent, count, res.out)
	}
	t.Logf("ping stream: %d sent, %d received", sent, got)
	return sent - got
}
