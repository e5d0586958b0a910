package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/oktagen"
)

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// signed returns the headers of a post of body signed with secret, the Standard Webhooks way.
func signed(t *testing.T, secret, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}

func TestWebhookReceiverVerifiesSignatures(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"version":1,"alerts":[{"eventId":"e1"}]}`)
	good := func() http.Header { return signed(t, testWebhookSecret, "msg_1", now, body) }
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
		ok     bool
	}{
		{"signed with the secret", good(), body, true},
		{"a minute late", signed(t, testWebhookSecret, "msg_1", now.Add(-time.Minute), body), body, true},
		{"one of two signatures valid (key rotation)", func() http.Header {
			h := good()
			h.Set("webhook-signature", "v1,b3RoZXI= "+h.Get("webhook-signature"))
			return h
		}(), body, true},
		{"another secret", signed(t, "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==", "msg_1", now, body), body, false},
		{"body changed", good(), []byte(`{"version":1,"alerts":[{"eventId":"e2"}]}`), false},
		{"id changed", func() http.Header { h := good(); h.Set("webhook-id", "msg_2"); return h }(), body, false},
		{"six minutes old", signed(t, testWebhookSecret, "msg_1", now.Add(-6*time.Minute), body), body, false},
		{"six minutes ahead", signed(t, testWebhookSecret, "msg_1", now.Add(6*time.Minute), body), body, false},
		{"timestamp not seconds", func() http.Header { h := good(); h.Set("webhook-timestamp", now.Format(time.RFC3339)); return h }(), body, false},
		{"no signature", func() http.Header { h := good(); h.Del("webhook-signature"); return h }(), body, false},
		{"another version", func() http.Header {
			h := good()
			h.Set("webhook-signature", strings.Replace(h.Get("webhook-signature"), "v1,", "v1a,", 1))
			return h
		}(), body, false},
		{"not base64", func() http.Header { h := good(); h.Set("webhook-signature", "v1,!!"); return h }(), body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newWebhookReceiver(testWebhookSecret)
			require.NoError(t, err)
			r.now = func() time.Time { return now }
			err = r.verify(tc.header, tc.body)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestWebhookReceiverRefusesBadSecrets(t *testing.T) {
	for _, secret := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "whsec_c2hvcnQ="} {
		_, err := newWebhookReceiver(secret)
		require.Error(t, err, secret)
	}
	_, err := newWebhookReceiver(testWebhookSecret + "\n")
	require.NoError(t, err, "a secret file's trailing newline is not part of the secret")
}

func TestWebhookReceiverCountsEachEventOnce(t *testing.T) {
	type post struct {
		events []string
		secret string // "" for the receiver's own
	}
	for _, tc := range []struct {
		name       string
		posts      []post
		want       []string
		missing    int
		duplicates int
		bad        int
	}{
		{name: "each once", posts: []post{{events: []string{"a"}}, {events: []string{"b"}}, {events: []string{"c"}}},
			want: []string{"a", "b", "c"}},
		{name: "a retry of a post", posts: []post{{events: []string{"a"}}, {events: []string{"a"}}, {events: []string{"b"}}},
			want: []string{"a", "b"}, duplicates: 1},
		{name: "a group, then one of its events alone", posts: []post{{events: []string{"a", "b", "c"}}, {events: []string{"b"}}},
			want: []string{"a", "b", "c"}, duplicates: 1},
		{name: "a post that does not verify is not an arrival", posts: []post{{events: []string{"a"}}, {events: []string{"b"}, secret: "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA=="}},
			want: []string{"a", "b"}, missing: 1, bad: 1},
		{name: "events not waited for do not count", posts: []post{{events: []string{"x"}}, {events: []string{"a"}}},
			want: []string{"a"}},
		{name: "nothing sent", want: []string{"a", "b"}, missing: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newWebhookReceiver(testWebhookSecret)
			require.NoError(t, err)
			srv := httptest.NewServer(r)
			defer srv.Close()
			for i, p := range tc.posts {
				var b strings.Builder
				b.WriteString(`{"version":1,"alerts":[`)
				for j, e := range p.events {
					if j > 0 {
						b.WriteByte(',')
					}
					b.WriteString(`{"eventId":"` + e + `"}`)
				}
				b.WriteString(`]}`)
				secret := p.secret
				if secret == "" {
					secret = testWebhookSecret
				}
				body := []byte(b.String())
				req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
				require.NoError(t, err)
				req.Header = signed(t, secret, "msg_"+strconv.Itoa(i), time.Now(), body)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				if p.secret == "" {
					require.Equal(t, http.StatusNoContent, resp.StatusCode)
				} else {
					require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			last, missing := r.waitFor(ctx, tc.want, time.Millisecond)
			require.Equal(t, tc.missing, missing)
			if len(tc.posts) > 0 {
				require.False(t, last.IsZero(), "the last arrival is known")
			}
			_, duplicates, bad := r.counts()
			require.Equal(t, tc.duplicates, duplicates)
			require.Equal(t, tc.bad, bad)
		})
	}
}

// TestWebhookReceiverTakesWhatHookdSends posts through hookd's own webhook sink: the receiver
// must verify what hookd signs, or every drain would end in a timeout.
func TestWebhookReceiverTakesWhatHookdSends(t *testing.T) {
	r, err := newWebhookReceiver(testWebhookSecret)
	require.NoError(t, err)
	srv := httptest.NewServer(r)
	defer srv.Close()
	sink, err := alerting.NewWebhookSink("webhook", srv.URL+"/", testWebhookSecret, nil)
	require.NoError(t, err)

	body, ids := oktagen.MixedIDs(10, 3, 0)
	b, err := hook.DecodeBytes(body)
	require.NoError(t, err)
	var c hook.Classifier
	changes, _ := c.RoleChanges(b, hookd.SourceHook)
	require.Len(t, changes, 3)
	for i := range changes {
		a := &alerting.Alert{Changes: []*hookd.RoleChange{&changes[i]}, Severity: alerting.DefaultSeverity(&changes[i])}
		require.NoError(t, sink.Deliver(context.Background(), a))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, missing := r.waitFor(ctx, ids, time.Millisecond)
	require.Zero(t, missing)
	arrived, duplicates, bad := r.counts()
	assert.Equal(t, 3, arrived)
	assert.Zero(t, duplicates)
	assert.Zero(t, bad)

	// The same alert again, as after a crash between the post and its record: a duplicate.
	a := &alerting.Alert{Changes: []*hookd.RoleChange{&changes[0]}, Severity: alerting.DefaultSeverity(&changes[0])}
	require.NoError(t, sink.Deliver(context.Background(), a))
	_, duplicates, _ = r.counts()
	assert.Equal(t, 1, duplicates)

	// A hookd with another secret: refused, counted, and no arrival.
	other, err := alerting.NewWebhookSink("webhook", srv.URL+"/", "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==", nil)
	require.NoError(t, err)
	require.Error(t, other.Deliver(context.Background(), a))
	_, _, bad = r.counts()
	assert.Equal(t, 1, bad)
}

func TestDrainLine(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	loadEnd := start.Add(time.Second)
	assert.Equal(t, "drain: 6000 role changes reached the webhook in 3.00 s from the first delivery (2000/s), 2.00 s after the load's end; 0 duplicates; 0 bad signatures",
		drainLine(6000, 0, start, loadEnd, start.Add(3*time.Second), time.Minute, 0, 0))
	assert.Equal(t, "drain: only 5990 of 6000 role changes reached the webhook within 1m0s of the load's end; 2 duplicates; 1 bad signatures",
		drainLine(6000, 10, start, loadEnd, start.Add(3*time.Second), time.Minute, 2, 1))
}
