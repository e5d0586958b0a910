package store

import (
	"fmt"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/parts/partstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecordsEncodedBeforeTheCommit: records encoded ahead, and their console index rows,
// in parts at once for a large request, are each what the commit would write; one with
// findings is left to the commit, whose detections set them (and the severity) anew.
func TestRecordsEncodedBeforeTheCommit(t *testing.T) {
	partstest.TwoProcessors(t)
	rcs := make([]hookd.RoleChange, 2*encodeParallelFrom+3)
	for i := range rcs {
		rcs[i] = record(fmt.Sprintf("enc-%d", i))
	}
	rcs[7].Findings = []hookd.Finding{{ID: hookd.FindingSelfGrant, Title: "Self-grant", Severity: "critical"}}
	s := open(t, Options{DataDir: t.TempDir(), Severity: func(rc *hookd.RoleChange) (string, int) { return "High " + rc.EventID, 3 }})
	got, index := s.encodeRecords(rcs)
	require.Len(t, got, len(rcs))
	require.Len(t, index, len(rcs))
	for i := range rcs {
		if i == 7 {
			assert.Nil(t, got[i], "a record with findings is encoded in the commit")
			assert.Nil(t, index[i], "and its index row made there")
			continue
		}
		want, err := encodeRecord(&rcs[i])
		require.NoError(t, err)
		require.Equal(t, string(want), string(got[i]), "record %d", i)
		require.Equal(t, s.changeIndexRow(dbKey(rcs[i].EventID), &rcs[i]), index[i], "index row %d", i)
	}
}
