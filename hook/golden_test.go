package hook

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const (
	payloadDir = "../testdata/payloads"
	goldenDir  = "../testdata/golden"
)

// goldenView is what a payload decodes to, as written to its golden file. Raw is left out of
// the records (it is the input again) and checked on its own.
type goldenView struct {
	Error       string             `json:"error,omitempty"`
	Org         string             `json:"org,omitempty"`
	Rejected    []Rejection        `json:"rejected,omitempty"`
	NotWatched  int                `json:"notWatched"`
	RoleChanges []hookd.RoleChange `json:"roleChanges"`
}

func payloadFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no payloads in %s", payloadDir)
	return files
}

func viewOf(t *testing.T, body []byte) goldenView {
	t.Helper()
	b, err := DecodeBytes(body)
	if err != nil {
		return goldenView{Error: err.Error(), RoleChanges: []hookd.RoleChange{}}
	}
	var c Classifier
	changes, notWatched := c.RoleChanges(b, hookd.SourceHook)
	for i := range changes {
		raw := changes[i].Raw
		require.True(t, json.Valid(raw), "raw of %s is not JSON", changes[i].EventID)
		var head struct{ UUID string }
		require.NoError(t, json.Unmarshal(raw, &head))
		assert.Equal(t, changes[i].EventID, head.UUID, "raw belongs to another event")
		changes[i].Raw = nil
	}
	if changes == nil {
		changes = []hookd.RoleChange{}
	}
	return goldenView{Org: b.Org, Rejected: b.Rejected, NotWatched: notWatched, RoleChanges: changes}
}

func TestGolden(t *testing.T) {
	for _, file := range payloadFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(file)
			require.NoError(t, err)
			got, err := json.MarshalIndent(viewOf(t, body), "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden := filepath.Join(goldenDir, name+".json")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./hook -update to create it")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// Every payload is accounted for: each event of a good body is a record, rejected, or not watched.
func TestPayloadsAccountForEveryEvent(t *testing.T) {
	for _, file := range payloadFiles(t) {
		body, err := os.ReadFile(file)
		require.NoError(t, err)
		b, err := DecodeBytes(body)
		if strings.HasPrefix(filepath.Base(file), "malformed-") {
			require.Error(t, err, file)
			var de *DecodeError
			require.True(t, errors.As(err, &de), file)
			assert.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrNotDelivery), file)
			continue
		}
		require.NoError(t, err, file)
		var raw struct {
			Data struct{ Events []json.RawMessage }
		}
		require.NoError(t, json.Unmarshal(body, &raw))
		var c Classifier
		changes, notWatched := c.RoleChanges(b, hookd.SourceHook)
		assert.Equal(t, len(raw.Data.Events), len(changes)+notWatched+len(b.Rejected), file)
		assert.Equal(t, "https://acme.okta.com", b.Org, file)
	}
}

func TestRedeliveryYieldsTheSameRecords(t *testing.T) {
	first, err := os.ReadFile(filepath.Join(payloadDir, "mixed-batch-50.json"))
	require.NoError(t, err)
	again, err := os.ReadFile(filepath.Join(payloadDir, "redelivery-of-mixed-batch-50.json"))
	require.NoError(t, err)
	require.False(t, bytes.Equal(first, again), "the redelivery comes in a new envelope")
	a, b := viewOf(t, first), viewOf(t, again)
	require.NotEmpty(t, a.RoleChanges)
	assert.Equal(t, a.RoleChanges, b.RoleChanges)
}
