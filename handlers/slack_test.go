package handlers

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/verify"
)

const slackSecret = "slack-signing-secret-for-tests"

// fakeDecider records the clicks it is given and answers err.
type fakeDecider struct {
	mu     sync.Mutex
	clicks []SlackClick
	err    error
}

func (d *fakeDecider) Decide(_ context.Context, sink string, c SlackClick) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	if sink != "secops" {
		return fmt.Errorf("sink %q", sink)
	}
	if c.ActionID == "hookd_open" {
		return ErrNotADecision
	}
	d.clicks = append(d.clicks, c)
	return nil
}

func slackForm(payload string) string { return url.Values{"payload": {payload}}.Encode() }

const clickPayload = `{"type":"block_actions","user":{"id":"U1","username":"alice","name":"Alice"},
	"actions":[{"action_id":"hookd_acknowledge","value":"ev-1","type":"button"}],"response_url":"https://hooks.slack.com/actions/T/1/x"}`

func (f *fixture) slack(secret string, at time.Time, body string) *httptest.ResponseRecorder {
	ts := strconv.FormatInt(at.Unix(), 10)
	return f.do(http.MethodPost, "/slack/interactions", body, "Content-Type", "application/x-www-form-urlencoded",
		verify.SlackTimestampHeader, ts, verify.SlackSignatureHeader, "v0="+hex.EncodeToString(verify.SlackSignature([]byte(secret), ts, []byte(body))))
}

func TestSlackInteractions(t *testing.T) {
	d := &fakeDecider{}
	f := newFixture(t, func(o *Options) {
		o.Slack = &SlackOptions{Signer: verify.NewSlackSigner(map[string]string{"secops": slackSecret}, nil), Decider: d}
	})
	now := time.Now()

	rec := f.slack(slackSecret, now, slackForm(clickPayload))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, d.clicks, 1)
	c := d.clicks[0]
	assert.Equal(t, SlackClick{ActionID: "hookd_acknowledge", EventID: "ev-1", UserID: "U1", UserName: "Alice",
		ResponseURL: "https://hooks.slack.com/actions/T/1/x", RequestKey: c.RequestKey}, c)
	assert.NotEmpty(t, c.RequestKey)

	for what, rec := range map[string]*httptest.ResponseRecorder{
		"forged":   f.slack("guessed", now, slackForm(clickPayload)),
		"stale":    f.slack(slackSecret, now.Add(-6*time.Minute), slackForm(clickPayload)),
		"unsigned": f.do(http.MethodPost, "/slack/interactions", slackForm(clickPayload)),
	} {
		assert.Equal(t, http.StatusUnauthorized, rec.Code, what)
	}
	for what, body := range map[string]string{
		"not a form":          "%zz",
		"not JSON":            slackForm("{"),
		"not a button click":  slackForm(`{"type":"view_submission","user":{"id":"U1"}}`),
		"two actions":         slackForm(`{"type":"block_actions","user":{"id":"U1"},"actions":[{},{}]}`),
		"nobody clicked":      slackForm(`{"type":"block_actions","actions":[{"action_id":"a"}]}`),
		"payload is a string": slackForm(`"block_actions"`),
	} {
		assert.Equal(t, http.StatusBadRequest, f.slack(slackSecret, now, body).Code, what)
	}
	assert.Len(t, d.clicks, 1, "nothing refused reached the decider")
	assert.Equal(t, http.StatusRequestEntityTooLarge, f.slack(slackSecret, now, slackForm(strings.Repeat("x", maxSlackBody))).Code)

	// The same request with its signature in capitals is the same request.
	ts := strconv.FormatInt(now.Unix(), 10)
	upper := "v0=" + strings.ToUpper(hex.EncodeToString(verify.SlackSignature([]byte(slackSecret), ts, []byte(slackForm(clickPayload)))))
	again := f.do(http.MethodPost, "/slack/interactions", slackForm(clickPayload), "Content-Type", "application/x-www-form-urlencoded",
		verify.SlackTimestampHeader, ts, verify.SlackSignatureHeader, upper)
	assert.Equal(t, http.StatusOK, again.Code)
	assert.Equal(t, d.clicks[0].RequestKey, d.clicks[len(d.clicks)-1].RequestKey, "one key, whatever the case of its hex")

	// A link button's click is answered, and decides nothing.
	link := f.slack(slackSecret, now, slackForm(strings.Replace(clickPayload, "hookd_acknowledge", "hookd_open", 1)))
	assert.Equal(t, http.StatusOK, link.Code)

	d.err = fmt.Errorf("event %w", adminapi.ErrNotFound)
	assert.Equal(t, http.StatusNotFound, f.slack(slackSecret, now, slackForm(clickPayload)).Code, "a change hookd does not know")
	d.err = errors.Join(errors.New("request already recorded"), adminapi.ErrConflict)
	assert.Equal(t, http.StatusUnauthorized, f.slack(slackSecret, now, slackForm(clickPayload)).Code, "a replay")

	for _, e := range f.logs.All() {
		assert.NotContains(t, fmt.Sprint(e.ContextMap()), slackSecret)
	}
	assert.NotEmpty(t, f.logs.FilterMessage("Slack interaction refused").All())
}

func TestSlackInteractionsWithoutAnApp(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, http.StatusUnauthorized, f.slack(slackSecret, time.Now(), slackForm(clickPayload)).Code)
}

// FuzzSlackClick: whatever a signed request's body holds, reading it never panics, and a
// click it returns is one button's, by a user.
func FuzzSlackClick(f *testing.F) {
	f.Add([]byte(slackForm(clickPayload)))
	f.Add([]byte(slackForm(`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"x","value":"\u0000"}]}`)))
	f.Add([]byte("payload=%7B%22type%22%3A%22block_actions%22%7D"))
	f.Add([]byte("payload=" + strings.Repeat("%5B", 1000)))
	f.Add([]byte("a=1&a=2;b"))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseSlackClick(body)
		if err != nil {
			assert.ErrorIs(t, err, adminapi.ErrBadRequest)
			return
		}
		assert.NotEmpty(t, c.UserID)
	})
}
