package systemlog

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/okta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSilenceIsAnAlert: with the poller's token revoked, one "cannot read" record after the
// threshold, whatever the number of cycles; with a good token again, one "recovered".
func TestSilenceIsAnAlert(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	health := func() []string {
		rows, err := f.store.DB().Query(`SELECT uuid FROM hookd_event WHERE event_type LIKE 'hookd.systemlog.%' ORDER BY uuid`)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			out = append(out, id)
		}
		return out
	}
	poller := func(token string) *Poller {
		p, err := New(Config{OrgURL: f.okta.URL, Credentials: okta.APIToken(token), Store: f.store, Now: f.clock.Now, SilenceAfter: 10 * time.Minute})
		require.NoError(t, err)
		return p
	}
	good := poller("good-token")
	require.NoError(t, good.Poll(ctx))
	assert.Empty(t, health(), "reading fine: nothing to say")

	revoked := poller("revoked-token") // Okta refuses it: 401, polling stops
	for range 5 {
		f.clock.Add(time.Minute)
		require.NoError(t, revoked.Poll(ctx))
	}
	assert.Empty(t, health(), "under the threshold: quiet")
	for range 20 {
		f.clock.Add(time.Minute)
		require.NoError(t, revoked.Poll(ctx))
	}
	ids := health()
	require.Len(t, ids, 1, "one alert, however many cycles")
	rc, err := f.store.Record(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, hookd.Health, rc.Category)
	assert.Equal(t, hookd.Blinded, rc.Action)
	assert.Contains(t, rc.DisplayMessage, "hookd cannot read Okta's System Log since")
	assert.Contains(t, rc.DisplayMessage, "HTTP 401", "with the reason")

	fixed := poller("good-token")
	require.NoError(t, fixed.Poll(ctx))
	require.NoError(t, fixed.Poll(ctx))
	ids = health()
	require.Len(t, ids, 2, "one recovered alert")
	rc, err = f.store.Record(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, hookd.Recovered, rc.Action)
	assert.Contains(t, rc.DisplayMessage, "hookd reads Okta's System Log again")
}
