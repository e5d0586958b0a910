package systemlog

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/okta"
)

// addHistory puts a role change on the fake org: subject s<n> granted or revoked Folder Editor.
func (f *fixture) addHistory(i, subject int, grant bool, at time.Time) {
	eventType := "workflows.user.role.user.remove"
	if grant {
		eventType = "workflows.user.role.user.add"
	}
	raw := fmt.Sprintf(`{"uuid":"hist-%04d","published":%q,"eventType":%q,"version":"0",
		"actor":{"id":"00uAdmin","type":"User","alternateId":"admin@acme.example","displayName":"Admin"},
		"outcome":{"result":"SUCCESS"},
		"target":[{"id":"00us%03d","type":"User","alternateId":"s%d@acme.example","displayName":"S %d"},
		{"id":"wfr1","type":"WorkflowsRole","displayName":"Folder Editor"}]}`,
		i, at.UTC().Format("2006-01-02T15:04:05.000Z"), eventType, subject, subject, subject)
	f.okta.AddRaw(eventType, at, json.RawMessage(raw))
}

func TestImportIsResumableAndIdempotent(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	f.addHistory(0, 99, true, now.Add(-100*24*time.Hour)) // older than asked for
	for i := 1; i <= 250; i++ {
		// Each subject is granted, revoked, granted, revoked and granted again: it holds the role.
		f.addHistory(i, i%50, ((i-1)/50)%2 == 0, now.Add(-80*24*time.Hour+time.Duration(i)*time.Hour))
	}
	f.addHistory(251, 98, true, now.Add(time.Minute)) // after the import began: the poller's
	p := f.poller(t, "good-token", 20)

	// The first run stops after five pages, as a killed one would.
	ctx, cancel := context.WithCancel(context.Background())
	var seen []ImportProgress
	_, err := p.Import(ctx, f.store, now.Add(-90*24*time.Hour), false, func(pr ImportProgress) {
		seen = append(seen, pr)
		if pr.Pages == 5 {
			cancel()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, seen, 5)
	assert.Equal(t, 100, seen[4].Events)

	// The second goes on from page six, waiting out a 429 on the way.
	f.okta.TooMany = 1
	seen = nil
	pr, err := p.Import(context.Background(), f.store, now.Add(-90*24*time.Hour), false, func(pr ImportProgress) { seen = append(seen, pr) })
	require.NoError(t, err)
	require.NotEmpty(t, seen)
	assert.True(t, seen[0].Resumed)
	assert.False(t, seen[0].Waiting.IsZero(), "told of the rate limit")
	assert.True(t, pr.Done)
	assert.Equal(t, 250, pr.Events, "each event once, across both runs")
	assert.Equal(t, 250, pr.Changes)
	assert.Equal(t, 13, pr.Pages)

	holders, err := f.store.Holders(context.Background(), "")
	require.NoError(t, err)
	require.Len(t, holders, 50)
	for _, h := range holders {
		assert.Equal(t, adminapi.KnownByImport, h.KnownBy)
		assert.Equal(t, "Folder Editor", h.Role)
	}
	assert.Zero(t, f.events(t), "history is folded into the ledger, never stored or alerted as events")
	var jobs int
	require.NoError(t, f.store.DB().QueryRow("SELECT count(*) FROM hookd_delivery").Scan(&jobs))
	assert.Zero(t, jobs)

	// Again, from the start: the same ledger.
	pr, err = p.Import(context.Background(), f.store, now.Add(-90*24*time.Hour), false, nil)
	require.NoError(t, err)
	assert.Equal(t, 250, pr.Events)
	again, err := f.store.Holders(context.Background(), "")
	require.NoError(t, err)
	assert.Equal(t, holders, again)

	// Refused credentials say so.
	bad, err := New(Config{OrgURL: f.okta.URL, Credentials: okta.APIToken("wrong"), Store: f.store, Now: f.clock.Now})
	require.NoError(t, err)
	_, err = bad.Import(context.Background(), f.store, now.Add(-time.Hour), true, nil)
	assert.ErrorIs(t, err, ErrImportCredentials)
}
