package probe

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/multilink/multilink/internal/bpf"
)

// Subscribe returns a channel of every sample (reply or loss) of every
// link, and a function that ends the subscription. A subscriber that falls
// more than buf samples behind misses samples (counted, logged).
func (m *Monitor) Subscribe(buf int) (<-chan Sample, func()) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	id := m.nextSub
	m.nextSub++
	ch := make(chan Sample, buf)
	m.subs[id] = ch
	return ch, func() {
		m.subMu.Lock()
		defer m.subMu.Unlock()
		if c, ok := m.subs[id]; ok {
			delete(m.subs, id)
			close(c)
		}
	}
}

func (m *Monitor) publish(s []Sample) {
	if len(s) == 0 {
		return
	}
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for _, ch := range m.subs {
		for _, smp := range s {
			select {
			case ch <- smp:
			default:
				m.dropped++
				if m.dropped&(m.dropped-1) == 0 { // 1, 2, 4, ...: logged, not flooded
					m.log.Warn("probe subscriber too slow, samples dropped", "dropped", m.dropped)
				}
			}
		}
	}
}

// readEvents feeds ring buffer events to their links until rb or w
// closes: it drains the ring whenever the kernel wakes it (w waits in the
// runtime's poller). Steady replies of a fast link do not wake it; that
// link's prober drains them before each probe (wakeGap).
func (m *Monitor) readEvents(rb *ringbuf.Reader, w *ringWaiter) {
	defer m.wg.Done()
	for {
		if err := m.drain(); err != nil {
			if !errors.Is(err, ringbuf.ErrClosed) {
				m.log.Error("probe ring buffer", "err", err)
			}
			return
		}
		if err := w.wait(func() bool { return rb.AvailableBytes() > 0 }); err != nil {
			if !errors.Is(err, os.ErrClosed) {
				m.log.Error("probe ring buffer", "err", err)
			}
			return
		}
	}
}

// drain hands every event in the ring to its link, without blocking (the
// reader's deadline is past). The reader and the probers' ticks drain;
// drainMu keeps one at a time, so a link takes its events in order.
//
// It reads only while the ring holds data (AvailableBytes reads the
// ring's positions in shared memory): the Reader makes an epoll_wait
// system call when it finds the ring empty, and again before its next
// record, and that call goes through the runtime's hooks, which wake its
// sleeping sysmon thread (timerAlarm). A tick that finds its reply in the
// ring so reads it with no system call, and one that finds none makes none.
func (m *Monitor) drain() error {
	m.drainMu.Lock()
	defer m.drainMu.Unlock()
	for m.rb.AvailableBytes() > 0 {
		err := m.rb.ReadInto(&m.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		var ev bpf.ProbeEvent
		if _, err := binary.Decode(m.rec.RawSample, binary.NativeEndian, &ev); err != nil {
			m.log.Error("probe event", "err", err)
			continue
		}
		m.idxMu.RLock()
		p := m.byIndex[int(ev.Ifindex)]
		m.idxMu.RUnlock()
		switch {
		case p == nil:
		case ev.Slot == eventResumed:
			p.onResumed(ev.AtNs, time.Now())
		case int(ev.Slot) < Slots:
			p.onReply(int(ev.Slot), time.Duration(ev.RttNs), ev.AtNs, time.Now())
		}
	}
	return nil
}
