package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildHookd compiles ./cmd/hookd into dir and returns the binary's path.
func buildHookd(dir string) (string, error) {
	bin := filepath.Join(dir, "hookd")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/hookd/hookd/cmd/hookd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build hookd: %w", err)
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// hookd is one hookd process under test.
type hookd struct {
	bin     string
	env     []string
	addr    string
	admin   string
	dataDir string
	secret  string

	cmd  *exec.Cmd
	logs *lineLog
	done chan struct{}
	exit int
}

// newHookd prepares a hookd with its own data dir, secret and port; env adds HOOKD_* settings.
func newHookd(bin, dataDir string, env ...string) *hookd {
	h := &hookd{bin: bin, dataDir: dataDir, secret: "fault-suite-secret-" + strconv.Itoa(os.Getpid()), addr: freeAddr(), admin: freeAddr(), logs: &lineLog{}}
	h.env = append(os.Environ(),
		"HOOKD_LISTEN_ADDR="+h.addr, "HOOKD_ADMIN_ADDR="+h.admin, "HOOKD_DATA_DIR="+dataDir,
		"HOOKD_OKTA_SECRETS="+h.secret, "HOOKD_LOG_LEVEL=info")
	h.env = append(h.env, env...)
	return h
}

// start runs the process and waits until it answers /healthz.
func (h *hookd) start() error {
	h.cmd = exec.Command(h.bin, "serve")
	h.cmd.Env = h.env
	h.cmd.Stdout = io.Discard
	h.cmd.Stderr = h.logs
	h.done = make(chan struct{})
	if err := h.cmd.Start(); err != nil {
		return err
	}
	go func() {
		err := h.cmd.Wait()
		h.exit = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			h.exit = ee.ExitCode()
		}
		close(h.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-h.done:
			return fmt.Errorf("hookd exited with %d at start:\n%s", h.exit, h.logs.tail(20))
		default:
		}
		resp, err := http.Get("http://" + h.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("hookd did not answer /healthz within 20 s")
}

// kill9 ends the process at once, as a crash would.
func (h *hookd) kill9() {
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.done
}

// term sends SIGTERM and waits up to limit for the process to exit; it returns the exit
// code and how long the exit took.
func (h *hookd) term(limit time.Duration) (int, time.Duration, error) {
	began := time.Now()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
		return h.exit, time.Since(began), nil
	case <-time.After(limit):
		h.kill9()
		return -1, time.Since(began), fmt.Errorf("hookd did not exit within %s of SIGTERM", limit)
	}
}

// stop ends the process however it can; for cleanup.
func (h *hookd) stop() {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	select {
	case <-h.done:
	default:
		if _, _, err := h.term(30 * time.Second); err != nil {
			h.kill9()
		}
	}
}

// rss reads the process's resident memory and its peak, in bytes.
func (h *hookd) rss() (now, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			now = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return now, peak
}

// memoryDetail names the parts of resident memory: anonymous (heap), file-backed, shared.
func (h *hookd) memoryDetail() string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (k == "RssAnon" || k == "RssFile" || k == "RssShmem") {
			parts = append(parts, k+" "+strings.Join(strings.Fields(v), " "))
		}
	}
	return strings.Join(parts, ", ")
}

// post sends one delivery with hookd's secret and returns the status (0 for a transport
// error) and how long the answer took.
func (h *hookd) post(client *http.Client, body []byte) (int, time.Duration) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+"/okta/events", bytes.NewReader(body))
	req.Header.Set("Authorization", h.secret)
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(began)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(began)
}

// lineLog keeps what hookd writes to stderr, a line at a time, with when it came.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []logLine
}

type logLine struct {
	at   time.Time
	text string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, logLine{time.Now(), string(l.partial[:i])})
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// count returns how many lines written in [from, to) contain every one of words.
func (l *lineLog) count(from, to time.Time, words ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, line := range l.lines {
		if line.at.Before(from) || !line.at.Before(to) {
			continue
		}
		for _, w := range words {
			if !strings.Contains(line.text, w) {
				continue next
			}
		}
		n++
	}
	return n
}

// bytes returns how many bytes of log were written in [from, to), less the lines holding
// any of except.
func (l *lineLog) bytes(from, to time.Time, except ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, line := range l.lines {
		if line.at.Before(from) || !line.at.Before(to) {
			continue
		}
		for _, w := range except {
			if strings.Contains(line.text, w) {
				continue next
			}
		}
		n += len(line.text) + 1
	}
	return n
}

// longest returns the length of the longest line written in [from, to).
func (l *lineLog) longest(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if !line.at.Before(from) && line.at.Before(to) {
			n = max(n, len(line.text))
		}
	}
	return n
}

func (l *lineLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, line := range l.lines[max(0, len(l.lines)-n):] {
		b.WriteString(line.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// waitFor polls cond every 50 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}
