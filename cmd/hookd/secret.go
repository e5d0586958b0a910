package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// secretFile is where serve keeps the secret it generated when none was configured;
// unshownFile marks that the operator has not been shown it yet.
const (
	secretFile  = "okta-secret"
	unshownFile = "okta-secret.unshown"
)

// loadOrCreateSecret returns the secret kept in dataDir, making one the first time. created
// says whether it was made now, so that it is shown to the operator exactly once.
func loadOrCreateSecret(dataDir string) (secret string, created bool, err error) {
	path := filepath.Join(dataDir, secretFile)
	data, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(data))
		if s == "" {
			return "", false, fmt.Errorf("%s is empty: delete it to have a new secret made, or set HOOKD_OKTA_SECRETS", path)
		}
		return s, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	if secret, err = createSecretFile(path, 32); err != nil {
		return "", false, err
	}
	// Shown once hookd listens: a start that fails before then (a busy port) shows it on the
	// next start that succeeds.
	if err := os.WriteFile(filepath.Join(dataDir, unshownFile), nil, 0o600); err != nil {
		return "", false, fmt.Errorf("data dir: %w", err)
	}
	return secret, true, nil
}

// secretToShow returns the generated secret if the operator has not been shown it yet.
func secretToShow(dataDir string) (string, bool) {
	if _, err := os.Stat(filepath.Join(dataDir, unshownFile)); err != nil {
		return "", false
	}
	s, err := readTrimmed(filepath.Join(dataDir, secretFile))
	return s, err == nil
}

// secretShown records that the operator has been shown the generated secret.
func secretShown(dataDir string) { _ = os.Remove(filepath.Join(dataDir, unshownFile)) }

// makeAdminTokenFile creates the file HOOKD_ADMIN_TOKEN_FILE names, with a new random token,
// when it does not exist yet: the container image asks for its token this way, so that the
// admin listener it publishes (on the host's loopback) is never open without one. It returns
// the token it made, or "" when the file was there (or not asked for).
func makeAdminTokenFile(getenv func(string) (string, bool)) (path, token string, err error) {
	path, ok := getenv("HOOKD_ADMIN_TOKEN_FILE")
	if !ok || path == "" {
		return "", "", nil
	}
	if v, set := getenv("HOOKD_ADMIN_TOKEN"); set && v != "" {
		return "", "", nil // both set: config says so
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return "", "", nil
	}
	if token, err = createSecretFile(path, 24); err != nil {
		return "", "", fmt.Errorf("HOOKD_ADMIN_TOKEN_FILE: %w", err)
	}
	return path, token, nil
}

// createSecretFile makes path (and its folder) holding a new random secret of n bytes in
// base64url, readable by this user only; it never overwrites a file.
func createSecretFile(path string, n int) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return secret, nil
}
