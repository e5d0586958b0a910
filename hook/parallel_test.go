package hook

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/hookd/hookd/internal/parts/partstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLargeBatchClassifiedInParts: a batch large enough to be shared among processors comes
// out as the one-at-a-time classification does: the same records, in the delivery's order,
// and the same count of events not watched.
func TestLargeBatchClassifiedInParts(t *testing.T) {
	partstest.TwoProcessors(t)
	now := time.Now()
	events := make([][]byte, 3*parallelFrom+7)
	for i := range events {
		e := oktagen.Event{}
		if i%3 == 1 {
			e.EventType = "user.session.start"
		}
		events[i] = e.JSON(now)
	}
	batch, err := DecodeBytes(oktagen.Delivery(events...))
	require.NoError(t, err)
	var c Classifier
	got, gotNotWatched := c.RoleChanges(batch, hookd.SourceHook)
	want, wantNotWatched := c.roleChanges(batch.Events, batch.Org, hookd.SourceHook)
	require.Len(t, want, len(events)-len(events)/3)
	assert.Equal(t, wantNotWatched, gotNotWatched)
	assert.Equal(t, want, got)
}
