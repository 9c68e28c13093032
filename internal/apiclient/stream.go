package apiclient

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxEventLine bounds one line of a stream: an event is a few hundred
// bytes.
const maxEventLine = 1 << 20

// Stream opens path as server-sent events and calls on with each event's
// name and data until ctx ends (nil), the daemon ends the stream
// (io.ErrUnexpectedEOF: the daemon stopped or restarted), or on fails.
func (c *Client) Stream(ctx context.Context, path string, on func(event string, data []byte) error) error {
	resp, err := c.send(ctx, http.MethodGet, path, nil, "text/event-stream")
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return answerError(resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("GET %s: the daemon answered %q, not an event stream (an older daemon?)", path, ct)
	}
	err = readEvents(resp.Body, on)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// readEvents parses server-sent events (the subset the daemon writes:
// event and data fields, comments, blank lines between events).
func readEvents(r io.Reader, on func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxEventLine)
	event, data := "", []string{}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 || event != "" {
				if event == "" {
					event = "message"
				}
				if err := on(event, []byte(strings.Join(data, "\n"))); err != nil {
					return err
				}
			}
			event, data = "", data[:0]
		case strings.HasPrefix(line, ":"):
			// a comment: the daemon's keep-alive
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "data":
				data = append(data, value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the event stream: %w", err)
	}
	return io.ErrUnexpectedEOF
}
