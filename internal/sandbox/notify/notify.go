// Package notify delivers the sandbox's signed notifications to the
// platform on the channels' real retry schedules, keeps a log of every
// attempt (for test helpers and replays), and has switches to delay,
// duplicate or drop deliveries.
package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"campuspay/internal/outbound"
)

// Real retry schedules: the delay before each retry after the first try.
var (
	// WeChatSchedule is WeChat Pay's published schedule.
	WeChatSchedule = []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
		10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute,
		60 * time.Minute, 3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour}
	// UnionPaySchedule is about five tries over ten minutes.
	UnionPaySchedule = []time.Duration{30 * time.Second, 1 * time.Minute, 2 * time.Minute, 2*time.Minute + 30*time.Second, 4 * time.Minute}
)

// Message is one signed delivery: built afresh for every attempt, since a
// signature carries a timestamp.
type Message struct {
	Header map[string]string
	Body   []byte
}

// Record is one delivery attempt, kept for the test helpers.
type Record struct {
	Channel        string            `json:"channel"`
	OrderNo        string            `json:"order_no"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	Body           string            `json:"body"`
	ResponseStatus int               `json:"response_status"` // 0 when the platform did not answer
	Attempt        int               `json:"attempt"`         // 1 for the first try
	Duplicate      bool              `json:"duplicate,omitempty"`
	SentAt         time.Time         `json:"sent_at"`
}

// Switches change how deliveries behave, for tests of lost, late and
// repeated notifications.
type Switches struct {
	Delay     time.Duration `json:"delay"`      // wait before the first try
	Duplicate bool          `json:"duplicate"`  // deliver each successful message twice
	Drop      bool          `json:"drop"`       // never deliver (all attempts skipped)
	TimeScale float64       `json:"time_scale"` // multiply every retry delay (1 = real; 0.001 = fast)
}

// Notifier sends messages in the background.
type Notifier struct {
	client *http.Client
	log    *slog.Logger

	mu       sync.Mutex
	records  []Record
	switches Switches
	closed   bool // set by Close: no new deliveries start
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// New returns a Notifier; timeScale compresses the retry schedules.
func New(client *http.Client, log *slog.Logger, timeScale float64) *Notifier {
	if client == nil {
		// Connections to a merchant are kept, as a bank's gateway keeps
		// them (notifications come in bursts).
		client = outbound.Client(10*time.Second, 64)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if timeScale <= 0 {
		timeScale = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{client: client, log: log, switches: Switches{TimeScale: timeScale}, ctx: ctx, cancel: cancel}
}

// SetSwitches replaces the switches for messages sent from now on.
func (n *Notifier) SetSwitches(s Switches) {
	if s.TimeScale <= 0 {
		s.TimeScale = 1
	}
	n.mu.Lock()
	n.switches = s
	n.mu.Unlock()
}

// Switches returns the current switches.
func (n *Notifier) Switches() Switches {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.switches
}

// Records returns a copy of every attempt so far, oldest first.
func (n *Notifier) Records() []Record {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Record(nil), n.records...)
}

// Send delivers build()'s message to url in the background, retrying on
// schedule until ok(status) or the schedule runs out. After Close it
// sends nothing.
func (n *Notifier) Send(channel, orderNo, url string, schedule []time.Duration, ok func(status int) bool, build func() Message) {
	n.mu.Lock()
	sw, closed := n.switches, n.closed
	if !closed && !sw.Drop {
		n.wg.Add(1)
	}
	n.mu.Unlock()
	if closed {
		return
	}
	if sw.Drop {
		n.log.Info("sandbox notification dropped by switch", "channel", channel, "order_no", orderNo)
		return
	}
	go func() {
		defer n.wg.Done()
		if !n.sleep(sw.Delay) {
			return
		}
		for attempt := 1; ; attempt++ {
			status := n.deliver(channel, orderNo, url, attempt, false, build())
			if ok(status) {
				if sw.Duplicate {
					n.deliver(channel, orderNo, url, attempt, true, build())
				}
				return
			}
			if attempt > len(schedule) {
				n.log.Warn("sandbox notification gave up", "channel", channel, "order_no", orderNo, "attempts", attempt)
				return
			}
			if !n.sleep(time.Duration(float64(schedule[attempt-1]) * sw.TimeScale)) {
				return
			}
		}
	}()
}

func (n *Notifier) sleep(d time.Duration) bool {
	if d <= 0 {
		return n.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

func (n *Notifier) deliver(channel, orderNo, url string, attempt int, dup bool, m Message) int {
	rec := Record{Channel: channel, OrderNo: orderNo, URL: url, Headers: m.Header, Body: string(m.Body),
		Attempt: attempt, Duplicate: dup, SentAt: time.Now()}
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, url, bytes.NewReader(m.Body))
	if err == nil {
		for k, v := range m.Header {
			req.Header.Set(k, v)
		}
		var resp *http.Response
		resp, err = n.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			rec.ResponseStatus = resp.StatusCode
		}
	}
	if err != nil {
		n.log.Info("sandbox notification not delivered", "channel", channel, "order_no", orderNo, "attempt", attempt, "err", err)
	}
	n.mu.Lock()
	n.records = append(n.records, rec)
	n.mu.Unlock()
	return rec.ResponseStatus
}

// Wait blocks until every notification sent so far has been delivered,
// given up or dropped (a test's synchronisation point).
func (n *Notifier) Wait() { n.wg.Wait() }

// Close stops pending retries and waits for deliveries in flight.
func (n *Notifier) Close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}

// Scale is d compressed by the current time scale, for the channels' other
// delays (refunds settling) to follow the same clock as the retries.
func (n *Notifier) Scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * n.Switches().TimeScale)
}
