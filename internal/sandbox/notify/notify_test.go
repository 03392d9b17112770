package notify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetriesUntilAccepted(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != "hello" || r.Header.Get("X-Sig") == "" {
			t.Errorf("bad delivery %q %v", b, r.Header)
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	n := New(nil, nil, 0.0001)
	n.Send("unionpay", "ORD12345678", srv.URL, UnionPaySchedule, func(s int) bool { return s == 200 },
		func() Message { return Message{Header: map[string]string{"X-Sig": "s"}, Body: []byte("hello")} })
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	n.Close()
	recs := n.Records()
	if len(recs) != 3 || recs[2].ResponseStatus != 200 || recs[0].ResponseStatus != 500 || recs[2].Attempt != 3 {
		t.Fatalf("records = %+v", recs)
	}
}

func TestDropAndDuplicate(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	n := New(nil, nil, 1)
	build := func() Message { return Message{Body: []byte("x")} }
	okf := func(s int) bool { return s == 200 }
	n.SetSwitches(Switches{Drop: true})
	n.Send("wechat", "A", srv.URL, WeChatSchedule, okf, build)
	n.SetSwitches(Switches{Duplicate: true})
	n.Send("wechat", "B", srv.URL, WeChatSchedule, okf, build)
	deadline := time.Now().Add(5 * time.Second)
	for len(n.Records()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Send decides a drop at once and starts nothing for it; Close waits
	// for everything Send started, so the count below is final.
	n.Close()
	if calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2 (A dropped, B twice)", calls.Load())
	}
	recs := n.Records()
	if len(recs) != 2 || recs[0].OrderNo != "B" || !recs[1].Duplicate {
		t.Fatalf("records = %+v", recs)
	}
}
