package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Log files of kept processes (Options.Keep): openvpn writes its stdout
// and stderr to <Dir>/<tap>.log instead of a pipe, which would outlive its
// reader (openvpn ignores SIGPIPE: its lines would be lost, and the next
// Manager could not show the last ones at its exit).
const (
	logMax    = 1 << 20                // a log file over this is truncated when a process starts on it
	logPoll   = 250 * time.Millisecond // how often a follower looks for new lines
	logPrimed = 16 << 10               // tail read to show an adopted process's last lines
)

// openLog opens a tunnel's log file for a new process's output (appended;
// truncated first when over logMax) and returns it with its size, where
// the new process's lines begin.
func openLog(path string) (*os.File, int64, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > logMax {
		if err := os.Truncate(path, 0); err != nil {
			return nil, 0, fmt.Errorf("truncate log file: %w", err)
		}
	}
	// os.OpenFile sets O_CLOEXEC: only the child gets it, as its stdout.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open log file: %w", err)
	}
	return f, fi.Size(), nil
}

// follow copies what is appended to path from offset on into out, every
// logPoll, until exited is closed; it then copies the rest, flushes out
// and closes done. When stop is closed first it just ends. A poll rather than inotify: the lines are for the debug
// log and the exit message, a quarter second late is soon enough.
func follow(path string, offset int64, out *output, exited, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	f, err := os.Open(path)
	if err != nil {
		out.log.Warn("openvpn output not followed", "path", path, "err", err)
		return
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		out.log.Warn("openvpn output not followed", "path", path, "err", err)
		return
	}
	tick := time.NewTicker(logPoll)
	defer tick.Stop()
	for {
		_, _ = io.Copy(out, f) // output.Write never fails; a read error is retried at the next tick
		select {
		case <-exited:
			_, _ = io.Copy(out, f)
			out.flush()
			return
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// logTail returns the size of the log file at path and up to the last
// outputLines complete lines before it, oldest first: what an adopted
// process said before its Manager came.
func logTail(path string) (int64, []string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil
	}
	size := fi.Size()
	from := max(size-logPrimed, 0)
	buf := make([]byte, size-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return size, nil
	}
	if from > 0 { // the first line is cut
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	var lines []string
	for line := range bytes.Lines(buf) {
		if bytes.HasSuffix(line, []byte("\n")) {
			lines = append(lines, string(bytes.TrimRight(line, "\r\n")))
		}
	}
	return size, lines[max(len(lines)-outputLines, 0):]
}
