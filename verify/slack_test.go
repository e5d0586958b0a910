package verify

import (
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func slackSigned(secret string, at time.Time, body string) (string, string) {
	ts := strconv.FormatInt(at.Unix(), 10)
	return ts, "v0=" + hex.EncodeToString(SlackSignature([]byte(secret), ts, []byte(body)))
}

func TestSlackSignatures(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := NewSlackSigner(map[string]string{"secops": "8f742231b10e8888abcd99yyyzzz85a5", "audit": "another-secret", "none": ""}, func() time.Time { return now })
	body := "payload=%7B%22type%22%3A%22block_actions%22%7D"

	ts, sig := slackSigned("8f742231b10e8888abcd99yyyzzz85a5", now.Add(-time.Minute), body)
	name, err := s.Verify(ts, sig, []byte(body))
	require.NoError(t, err)
	assert.Equal(t, "secops", name)

	ts, sig = slackSigned("another-secret", now, body)
	name, err = s.Verify(ts, sig, []byte(body))
	require.NoError(t, err)
	assert.Equal(t, "audit", name)

	signed := func(secret string, at time.Time, sent string) [3]string {
		ts, sig := slackSigned(secret, at, body)
		return [3]string{ts, sig, sent}
	}
	stamp := strconv.FormatInt(now.Unix(), 10)
	for _, tt := range []struct {
		what string
		req  [3]string // timestamp, signature, body sent
		want error
	}{
		{"forged secret", signed("guess", now, body), ErrSlackSignature},
		{"changed body", signed("another-secret", now, body+"x"), ErrSlackSignature},
		{"six minutes old", signed("another-secret", now.Add(-6*time.Minute), body), ErrSlackStale},
		{"six minutes ahead", signed("another-secret", now.Add(6*time.Minute), body), ErrSlackStale},
		{"an empty secret signs nothing", signed("", now, body), ErrSlackSignature},
		{"not v0", [3]string{stamp, "v1=00", body}, ErrSlackSignature},
		{"not hex", [3]string{stamp, "v0=zz", body}, ErrSlackSignature},
		{"no timestamp", [3]string{"", "v0=00", body}, ErrMissing},
		{"no signature", [3]string{stamp, "", body}, ErrMissing},
		{"timestamp in words", [3]string{"yesterday", "v0=00", body}, ErrSlackStale},
	} {
		_, err := s.Verify(tt.req[0], tt.req[1], []byte(tt.req[2]))
		assert.ErrorIs(t, err, tt.want, tt.what)
	}
}
