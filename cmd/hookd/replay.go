package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hookd/hookd"
	"github.com/hookd/hookd/config"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hookd/hookd/verify"
)

// replay sends payload files to a running hookd the way Okta would: an optional
// verification GET, then one POST per file. A file named malformed-* is expected to be
// refused with 400, any other to be accepted with 200.
func (m *Main) replay(ctx context.Context, args []string) error {
	fs := m.newFlags("replay")
	configPath := fs.String("config", "", "hookd's YAML configuration, for the default URL, header and secret (HOOKD_* variables too)")
	target := fs.String("url", "", "hookd's event-hook URL (default: from HOOKD_LISTEN_ADDR and HOOKD_OKTA_EVENTS_PATH)")
	header := fs.String("header", "", "auth header name (default: HOOKD_OKTA_AUTH_HEADER, else Authorization)")
	secret := fs.String("secret", "", "auth header value (prefer --secret-file: a command line is visible to other users)")
	secretPath := fs.String("secret-file", "", "file holding the auth header value (default: $HOOKD_OKTA_SECRETS, else <data dir>/okta-secret)")
	verifyFirst := fs.Bool("verify", false, "send Okta's verification GET first")
	expect := fs.Int("expect", 0, "status every file must get (default: 400 for malformed-*, else 200)")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each request")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, m.Getenv)
	if err != nil {
		return err
	}
	if *target == "" {
		*target = "http://" + loopbackOf(cfg.ListenAddr) + cfg.Okta.EventsPath
	}
	if *header == "" {
		*header = cfg.Okta.AuthHeader
	}
	value, err := replaySecret(cfg, *secret, *secretPath)
	if err != nil {
		return err
	}
	files, err := payloadFiles(fs.Args())
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: *timeout}
	unexpected := 0
	if *verifyFirst {
		if err := replayVerify(ctx, client, *target, *header, value); err != nil {
			if isConnError(err) {
				return notRunning(*target, err)
			}
			fmt.Fprintf(m.Stdout, "UNEXPECTED  verification: %v\n", err)
			unexpected++
		} else {
			fmt.Fprintln(m.Stdout, "ok          verification challenge answered")
		}
	}
	for _, file := range files {
		want := *expect
		if want == 0 {
			want = http.StatusOK
			if strings.HasPrefix(file.name, "malformed-") {
				want = http.StatusBadRequest
			}
		}
		line, status, err := replayFile(ctx, client, *target, *header, value, file, want)
		if err != nil {
			return notRunning(*target, err)
		}
		if status != want {
			unexpected++
		}
		fmt.Fprintln(m.Stdout, line)
		if status == http.StatusUnauthorized && want != http.StatusUnauthorized {
			// Every file would get the same answer: the secret is what is wrong.
			return fmt.Errorf("hookd refused the secret (401): pass the one serve uses with --secret-file, or set HOOKD_OKTA_SECRETS as serve has it")
		}
	}
	if unexpected > 0 {
		return fmt.Errorf("%d of %d requests got an unexpected answer", unexpected, len(files)+btoi(*verifyFirst))
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// replaySecret finds the header value the way an operator most likely set it up: the flag,
// the configured secrets, or the one serve keeps in the data dir.
func replaySecret(cfg config.Config, flagValue, flagFile string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if flagFile != "" {
		return readTrimmed(flagFile)
	}
	if len(cfg.Okta.Secrets) > 0 {
		return cfg.Okta.Secrets[0], nil
	}
	path := filepath.Join(cfg.DataDir, secretFile)
	s, err := readTrimmed(path)
	if err != nil {
		return "", fmt.Errorf("no secret: pass --secret-file, set HOOKD_OKTA_SECRETS, or run from the folder where hookd serve keeps %s (%w)", path, err)
	}
	return s, nil
}

// loopbackOf turns a listen address into one to call: ":8080" and "0.0.0.0:8080" are
// 127.0.0.1:8080.
func loopbackOf(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// isConnError reports whether err means nothing answered at all (refused, unreachable).
func isConnError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func notRunning(target string, err error) error {
	return fmt.Errorf("nothing answers at %s (%v): is hookd serve running, and on that address?", target, err)
}

func readTrimmed(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// payload is one file to send: its name and its body.
type payload struct {
	name string
	body []byte
}

// payloadFiles reads the files and folders' .json files, sorted, so runs are repeatable;
// with none named, the samples built into hookd.
func payloadFiles(paths []string) ([]payload, error) {
	if len(paths) == 0 {
		return samplePayloads()
	}
	var names []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			names = append(names, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(matches)
		names = append(names, matches...)
	}
	if len(names) == 0 {
		return nil, errors.New("no payload files found")
	}
	out := make([]payload, 0, len(names))
	for _, n := range names {
		body, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, payload{name: filepath.Base(n), body: body})
	}
	return out, nil
}

// samplePayloads are the sample deliveries embedded in the binary.
func samplePayloads() ([]payload, error) {
	entries, err := fs.ReadDir(hookd.Samples, "testdata/payloads")
	if err != nil {
		return nil, err
	}
	var out []payload
	for _, e := range entries {
		body, err := fs.ReadFile(hookd.Samples, "testdata/payloads/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, payload{name: e.Name(), body: body})
	}
	return out, nil
}

func replayVerify(ctx context.Context, client *http.Client, target, header, secret string) error {
	challenge := randomHex()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set(header, secret)
	req.Header.Set(verify.ChallengeHeader, challenge)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Okta-Integrations (hookd replay)")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var answer struct{ Verification string }
	if err := json.Unmarshal(body, &answer); err != nil || answer.Verification != challenge {
		return fmt.Errorf("answer %q does not echo the challenge", body)
	}
	return nil
}

// replayFile sends one payload and says how it was answered, with the status (0 when the
// request failed); err is set only when nothing answered, which ends the replay.
func replayFile(ctx context.Context, client *http.Client, target, header, secret string, file payload, want int) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(file.body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set(header, secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Okta-Integrations (hookd replay)")
	req.Header.Set("X-Okta-Request-Id", "replay-"+randomHex())
	resp, err := client.Do(req)
	if err != nil {
		if isConnError(err) {
			return "", 0, err
		}
		return fmt.Sprintf("UNEXPECTED  %s: %v", file.name, err), 0, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	detail := strings.TrimSpace(string(answer))
	if resp.StatusCode == http.StatusOK {
		h := resp.Header
		detail = fmt.Sprintf("accepted=%s duplicates=%s not_watched=%s rejected=%s",
			h.Get("X-Hookd-Accepted"), h.Get("X-Hookd-Duplicates"), h.Get("X-Hookd-Not-Watched"), h.Get("X-Hookd-Rejected"))
	}
	if resp.StatusCode != want {
		return fmt.Sprintf("UNEXPECTED  %d (want %d)  %s  %s", resp.StatusCode, want, file.name, detail), resp.StatusCode, nil
	}
	return fmt.Sprintf("ok  %d  %-40s %s", resp.StatusCode, file.name, detail), resp.StatusCode, nil
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
