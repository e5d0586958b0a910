package oktagen

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMixedHasTheAskedShare(t *testing.T) {
	var d struct {
		Data struct {
			Events []struct {
				UUID      string `json:"uuid"`
				EventType string `json:"eventType"`
			} `json:"events"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(Mixed(10, 3, 0), &d))
	require.Len(t, d.Data.Events, 10)
	types := map[string]int{}
	uuids := map[string]bool{}
	for _, e := range d.Data.Events {
		types[e.EventType]++
		uuids[e.UUID] = true
	}
	assert.Equal(t, map[string]int{"workflows.user.role.user.add": 3, "user.session.start": 7}, types)
	assert.Len(t, uuids, 10, "every event has its own uuid")

	body, ids := MixedIDs(10, 3, 0)
	require.NoError(t, json.Unmarshal(body, &d))
	var watched []string
	for _, e := range d.Data.Events {
		if e.EventType == "workflows.user.role.user.add" {
			watched = append(watched, e.UUID)
		}
	}
	assert.Equal(t, watched, ids, "MixedIDs names the watched events, in order")

	require.NoError(t, json.Unmarshal(WatchedAmong(4, 0), &d))
	for _, e := range d.Data.Events {
		assert.Equal(t, "workflows.user.role.user.add", e.EventType)
	}
}
