package tunnel

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Limits of the captured output of one process.
const (
	outputLines   = 20  // lines kept for the exit log
	outputLineLen = 512 // longer lines are cut
	// peerExitLine is in the line OpenVPN 2.6 logs when its peer's exit
	// notification made it restart ("SIGUSR1[soft,remote-exit] received,
	// process restarting").
	peerExitLine = "[soft,remote-exit]"
	// peerUpLine is in the line it logs when a session with its peer is
	// initiated ("[<CN>] Peer Connection Initiated with ...").
	peerUpLine = "Peer Connection Initiated"
)

// output receives a process's stdout and stderr: it logs every line at
// debug level and keeps the last outputLines for the exit log. os/exec
// writes from one goroutine at a time when Stdout == Stderr, but the
// reader of last runs elsewhere, hence the mutex.
type output struct {
	log *slog.Logger
	// peer, when set, is called (in a goroutine of its own) when the
	// process says its peer exited or a session with it was initiated,
	// with the time the line came.
	peer func(exited bool, at time.Time)

	mu      sync.Mutex
	pid     int
	partial []byte
	ring    [outputLines]string
	n       int // lines written so far
}

func (o *output) setPID(pid int) {
	o.mu.Lock()
	o.pid = pid
	o.mu.Unlock()
}

// Write implements io.Writer; it never fails.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := max(outputLineLen-len(o.partial), 0)
			o.partial = append(o.partial, p[:min(len(p), room)]...)
			break
		}
		room := max(outputLineLen-len(o.partial), 0)
		o.partial = append(o.partial, p[:min(i, room)]...)
		o.emit()
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a final line that had no newline.
func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.emit()
	}
}

func (o *output) emit() {
	line := string(bytes.TrimRight(o.partial, "\r"))
	o.partial = o.partial[:0]
	o.ring[o.n%outputLines] = line
	o.n++
	o.log.Debug("openvpn", "pid", o.pid, "line", line)
	if o.peer != nil {
		switch {
		case strings.Contains(line, peerExitLine):
			go o.peer(true, time.Now())
		case strings.Contains(line, peerUpLine):
			go o.peer(false, time.Now())
		}
	}
}

// last returns the kept lines, oldest first.
func (o *output) last() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := min(o.n, outputLines)
	lines := make([]string, 0, k)
	for i := o.n - k; i < o.n; i++ {
		lines = append(lines, o.ring[i%outputLines])
	}
	return lines
}

// prime puts lines in the ring without logging them: the last lines of
// an adopted process, logged by the Manager that started it.
func (o *output) prime(lines []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range lines {
		if len(l) > outputLineLen {
			l = l[:outputLineLen]
		}
		o.ring[o.n%outputLines] = l
		o.n++
	}
}
