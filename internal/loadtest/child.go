package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// child is a campuspay process the load test started (server or sandbox).
type child struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stdout and stderr
	done chan struct{}
}

// startChild runs bin with args, its output in dir/name.log, and waits
// until base/healthz answers 200.
func startChild(ctx context.Context, bin, dir, name, base string, args ...string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: exec.Command(bin, args...), log: logPath, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = f, f
	c.cmd.SysProcAttr = childAttr()
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.cmd.Wait()
		f.Close()
		close(c.done)
	}()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-c.done:
			return nil, fmt.Errorf("%s exited at start: %s", name, c.tail())
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := hc.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("%s not healthy after 30 s: %s", name, c.tail())
		}
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// tail is the end of the child's output, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// stop asks the child to shut down (SIGTERM, as on Ctrl+C) and kills it
// after 10 s.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(terminate)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// freeAddr reserves a loopback port for a child to listen on (a child's
// own ":0" would not tell us its port).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// runCLI runs one campuspay command to completion and returns its output.
func runCLI(ctx context.Context, bin string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), fmt.Errorf("campuspay %s: exit %d: %s", strings.Join(args[:min(2, len(args))], " "), ee.ExitCode(), strings.TrimSpace(string(out)))
	}
	return string(out), err
}
