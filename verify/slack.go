package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The headers Slack signs its requests to an app with.
const (
	SlackTimestampHeader = "X-Slack-Request-Timestamp"
	SlackSignatureHeader = "X-Slack-Signature"
)

// SlackMaxAge is how far a signed Slack request's timestamp may be from now, either way:
// Slack's own advice against replays of an old request.
const SlackMaxAge = 5 * time.Minute

// ErrSlackStale is returned for a Slack request whose timestamp is too far from now.
var ErrSlackStale = errors.New("slack request timestamp too old or in the future")

// ErrSlackSignature is returned for a Slack request signed by none of the known secrets.
var ErrSlackSignature = errors.New("slack request signature does not match")

// SlackSigner checks Slack's v0 request signatures: HMAC-SHA256, keyed by a Slack app's
// signing secret, over "v0:" + timestamp + ":" + body. Several apps (one per Slack sink) may
// post to hookd; a request names which one by the secret that signed it.
type SlackSigner struct {
	secrets map[string][]byte
	now     func() time.Time
}

// NewSlackSigner checks signatures by the signing secrets of the named sinks; now is the
// clock (time.Now when nil).
func NewSlackSigner(secrets map[string]string, now func() time.Time) *SlackSigner {
	if now == nil {
		now = time.Now
	}
	s := &SlackSigner{secrets: map[string][]byte{}, now: now}
	for name, secret := range secrets {
		if secret != "" {
			s.secrets[name] = []byte(secret)
		}
	}
	return s
}

// Verify returns the name of the sink whose secret signed body at timestamp, or an error:
// ErrSlackStale, ErrSlackSignature, or ErrMissing without the headers. Every secret is
// tried, each compared in constant time.
func (s *SlackSigner) Verify(timestamp, signature string, body []byte) (string, error) {
	if timestamp == "" || signature == "" {
		return "", ErrMissing
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return "", ErrSlackStale
	}
	if age := s.now().Sub(time.Unix(sec, 0)); age > SlackMaxAge || age < -SlackMaxAge {
		return "", ErrSlackStale
	}
	got, err := hex.DecodeString(strings.TrimPrefix(signature, "v0="))
	if err != nil || !strings.HasPrefix(signature, "v0=") {
		return "", ErrSlackSignature
	}
	match := ""
	for name, key := range s.secrets {
		if hmac.Equal(SlackSignature(key, timestamp, body), got) && match == "" {
			match = name
		}
	}
	if match == "" {
		return "", ErrSlackSignature
	}
	return match, nil
}

// SlackSignature is the v0 signature of body at timestamp by key, as raw bytes (Slack sends
// "v0=" and their hex).
func SlackSignature(key []byte, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return mac.Sum(nil)
}
