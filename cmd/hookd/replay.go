package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	target := fs.String("url", "http://127.0.0.1:8080/okta/events", "hookd's event-hook URL")
	header := fs.String("header", envOr(m.Getenv, "HOOKD_OKTA_AUTH_HEADER", "Authorization"), "auth header name")
	secret := fs.String("secret", "", "auth header value (prefer --secret-file: a command line is visible to other users)")
	secretPath := fs.String("secret-file", "", "file holding the auth header value (default: $HOOKD_OKTA_SECRETS, else <data dir>/okta-secret)")
	verifyFirst := fs.Bool("verify", false, "send Okta's verification GET first")
	expect := fs.Int("expect", 0, "status every file must get (default: 400 for malformed-*, else 200)")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each request")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	value, err := m.replaySecret(*secret, *secretPath)
	if err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{filepath.Join("testdata", "payloads")}
	}
	files, err := payloadFiles(paths)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: *timeout}
	unexpected := 0
	if *verifyFirst {
		if err := replayVerify(ctx, client, *target, *header, value); err != nil {
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
			if strings.HasPrefix(filepath.Base(file), "malformed-") {
				want = http.StatusBadRequest
			}
		}
		line, ok := replayFile(ctx, client, *target, *header, value, file, want)
		if !ok {
			unexpected++
		}
		fmt.Fprintln(m.Stdout, line)
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

func envOr(getenv func(string) (string, bool), key, def string) string {
	if v, ok := getenv(key); ok && v != "" {
		return v
	}
	return def
}

// replaySecret finds the header value the way an operator most likely set it up.
func (m *Main) replaySecret(flagValue, flagFile string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if flagFile != "" {
		return readTrimmed(flagFile)
	}
	if v, ok := m.Getenv("HOOKD_OKTA_SECRETS"); ok && v != "" {
		first, _, _ := strings.Cut(v, ",")
		return strings.TrimSpace(first), nil
	}
	path := filepath.Join(envOr(m.Getenv, "HOOKD_DATA_DIR", "./data"), secretFile)
	s, err := readTrimmed(path)
	if err != nil {
		return "", fmt.Errorf("no secret: pass --secret-file, set HOOKD_OKTA_SECRETS, or run from the folder where hookd serve keeps %s (%w)", path, err)
	}
	return s, nil
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

// payloadFiles expands folders into their .json files, sorted, so runs are repeatable.
func payloadFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	if len(files) == 0 {
		return nil, errors.New("no payload files found")
	}
	return files, nil
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

func replayFile(ctx context.Context, client *http.Client, target, header, secret, file string, want int) (string, bool) {
	name := filepath.Base(file)
	body, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("UNEXPECTED  %s: %v", name, err), false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Sprintf("UNEXPECTED  %s: %v", name, err), false
	}
	req.Header.Set(header, secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Okta-Integrations (hookd replay)")
	req.Header.Set("X-Okta-Request-Id", "replay-"+randomHex())
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Sprintf("UNEXPECTED  %s: %v", name, err), false
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
		return fmt.Sprintf("UNEXPECTED  %d (want %d)  %s  %s", resp.StatusCode, want, name, detail), false
	}
	return fmt.Sprintf("ok  %d  %-40s %s", resp.StatusCode, name, detail), true
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
