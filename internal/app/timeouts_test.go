package app

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSlowClientsAreDropped: a client that sends its body a byte at a time
// is cut off when the request's time is up, and an idle keep-alive
// connection is closed, instead of either holding the connection for as
// long as the client likes.
func TestSlowClientsAreDropped(t *testing.T) {
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "cp.db"), NoWorker: true,
		Timeouts: Timeouts{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond, Idle: 400 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := strings.TrimPrefix(s.URL, "http://")
	closedWithin := func(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		c.SetReadDeadline(start.Add(limit))
		_, err := io.Copy(io.Discard, c) // ends when the server closes (EOF, or a reset if it left bytes unread)
		took := time.Since(start)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the server kept the connection for %v", took)
		}
		return took
	}
	t.Run("a slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /notify/unionpay HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n")
		stop := make(chan struct{})
		defer close(stop)
		go func() { // one byte every 100 ms, for ever
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
					if _, err := c.Write([]byte("a")); err != nil {
						return
					}
				}
			}
		}()
		if took := closedWithin(t, c, 5*time.Second); took > 3*time.Second {
			t.Fatalf("closed after %v", took)
		}
	})
	t.Run("headers that never end", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		closedWithin(t, c, 5*time.Second)
	})
	t.Run("an idle keep-alive connection", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		resp.Body.Close()
		closedWithin(t, c, 5*time.Second)
	})
}

// TestConnectionsAreBounded: beyond MaxConns open connections, a new
// client is not served (it waits in the backlog) until one closes, so a
// flood cannot take the file descriptors the database needs.
func TestConnectionsAreBounded(t *testing.T) {
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "cp.db"), NoWorker: true,
		MaxConns: 2, Timeouts: Timeouts{ReadHeader: 20 * time.Second, Idle: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := strings.TrimPrefix(s.URL, "http://")
	healthy := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := healthy(10 * time.Second); err != nil {
		t.Fatalf("healthz before the limit: %v", err)
	}
	var held []net.Conn
	for range 2 { // two clients that open a request and never finish it
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	if err := healthy(700 * time.Millisecond); err == nil {
		t.Fatal("a third connection was served while two held the limit")
	}
	held[0].Close()
	if err := healthy(10 * time.Second); err != nil {
		t.Fatalf("healthz after one connection closed: %v", err)
	}
}
