package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/detect"
	"github.com/hookd/hookd/hook"
)

// detectSettings are the defaults with business hours in New York, Monday to Friday.
func detectSettings(t *testing.T) *detect.Settings {
	s := detect.Defaults()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	s.OffHours = &detect.Hours{Location: ny, Start: 9 * time.Hour, End: 18 * time.Hour,
		Days: [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true}}
	return &s
}

// sampleChanges are the role changes of every sample delivery that decodes, by file name.
func sampleChanges(t *testing.T) map[string][]hookd.RoleChange {
	files, err := filepath.Glob("../testdata/payloads/*.json")
	require.NoError(t, err)
	out := map[string][]hookd.RoleChange{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		b, err := hook.DecodeBytes(body)
		if err != nil {
			continue
		}
		var c hook.Classifier
		changes, _ := c.RoleChanges(b, hookd.SourceHook)
		out[filepath.Base(f)] = changes
	}
	require.Contains(t, out, "finding-burst.json")
	return out
}

// findingsByFile reads back, from the store, the finding ids of each file's events.
func findingsByFile(t *testing.T, st *Store, files map[string][]hookd.RoleChange) map[string][]string {
	got := map[string][]string{}
	for name, changes := range files {
		for _, rc := range changes {
			if rc.IsMembership() {
				continue // the samples' groups hold nothing watched: not stored as changes
			}
			c, err := st.Change(context.Background(), rc.EventID)
			require.NoError(t, err, "%s: %s", name, rc.EventID)
			for _, f := range c.Record.Findings {
				got[name] = append(got[name], f.ID)
				assert.NotEmpty(t, f.Title)
				assert.NotEmpty(t, f.Detail)
			}
		}
		sort.Strings(got[name])
	}
	return got
}

// expectedFindings: each finding sample fires its own finding, once, and no other sample
// fires any.
var expectedFindings = map[string][]string{
	"finding-self-grant.json":    {hookd.FindingSelfGrant},
	"finding-short-lived.json":   {hookd.FindingShortLived},
	"finding-fresh-granter.json": {hookd.FindingFreshGranter},
	"finding-new-network.json":   {hookd.FindingNewNetwork},
	"finding-burst.json":         {hookd.FindingBurst},
	"finding-off-hours.json":     {hookd.FindingOffHours},
}

func TestEachFindingFiresOnItsSampleAlone(t *testing.T) {
	samples := sampleChanges(t)
	for _, b := range backends(t) {
		for name, want := range expectedFindings {
			t.Run(b.name+"/"+name, func(t *testing.T) {
				o := b.fresh(t)
				o.Sinks, o.Detect = []string{"webhook"}, detectSettings(t)
				st := open(t, o)
				one := map[string][]hookd.RoleChange{name: slices.Clone(samples[name])}
				_, err := st.Accept(context.Background(), one[name])
				require.NoError(t, err)
				assert.Equal(t, want, findingsByFile(t, st, one)[name])
			})
		}
	}
}

func TestFindingsOverEverySampleInEitherOrder(t *testing.T) {
	samples := sampleChanges(t)
	names := make([]string, 0, len(samples))
	for n := range samples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, b := range backends(t) {
		for _, order := range []string{"forwards", "backwards"} {
			t.Run(b.name+"/"+order, func(t *testing.T) {
				o := b.fresh(t)
				o.Sinks, o.Detect = []string{"webhook"}, detectSettings(t)
				st := open(t, o)
				files := slices.Clone(names)
				if order == "backwards" {
					slices.Reverse(files)
				}
				for _, n := range files {
					_, err := st.Accept(context.Background(), slices.Clone(samples[n]))
					require.NoError(t, err, n)
				}
				got := findingsByFile(t, st, samples)
				for n := range got {
					if len(got[n]) == 0 {
						delete(got, n)
					}
				}
				assert.Equal(t, expectedFindings, got)
			})
		}
	}
}

func TestFindingsRaiseSeverityAndSurviveRestart(t *testing.T) {
	samples := sampleChanges(t)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			o := b.fresh(t)
			o.Sinks, o.Detect = []string{"webhook"}, detectSettings(t)
			o.Severity = func(rc *hookd.RoleChange) (string, int) {
				if len(rc.Findings) > 0 {
					return "raised", 4
				}
				return "plain", 1
			}
			st := open(t, o)
			burst := samples["finding-burst.json"]
			// The first five of the burst in one delivery, then a restart, then the sixth:
			// what the store remembers is what fires.
			_, err := st.Accept(context.Background(), slices.Clone(burst[:5]))
			require.NoError(t, err)
			require.NoError(t, st.Close())
			st = open(t, o)
			_, err = st.Accept(context.Background(), slices.Clone(burst[5:]))
			require.NoError(t, err)
			last, err := st.Change(context.Background(), burst[5].EventID)
			require.NoError(t, err)
			require.Len(t, last.Record.Findings, 1)
			f := last.Record.Findings[0]
			assert.Equal(t, hookd.FindingBurst, f.ID)
			assert.Contains(t, f.Detail, "Paul Bulk has changed roles for 6 subjects within 10 minutes")
			assert.Equal(t, "raised", last.Severity, "the console's index keeps the severity the finding raised")
			first, err := st.Change(context.Background(), burst[0].EventID)
			require.NoError(t, err)
			assert.Empty(t, first.Record.Findings)
			assert.Equal(t, "plain", first.Severity)
		})
	}
}

func TestFindingDetailsSayWhy(t *testing.T) {
	samples := sampleChanges(t)
	o := Options{DataDir: t.TempDir(), Sinks: []string{"webhook"}, Detect: detectSettings(t)}
	st := open(t, o)
	want := map[string]string{
		"finding-self-grant.json":    "Trent Insider granted Super administrator to themselves",
		"finding-short-lived.json":   "Ivan Temp held Workflows Administrator for only 12 minutes: granted 2026-11-24 16:00 UTC by Oscar Ops, revoked by Oscar Ops",
		"finding-fresh-granter.json": "Gina Newadmin received Workflows Administrator 40 minutes before this grant (2026-11-25 15:00 UTC, by Alice Admin)",
		"finding-new-network.json":   "Dana Roams changed roles from country Romania and AS64511, not seen in their role changes since 2026-10-27 15:00 UTC",
		"finding-off-hours.json":     "Nora Night made this change at Sunday 02:30 EST, outside business hours (Mon,Tue,Wed,Thu,Fri 09:00-18:00 America/New_York)",
	}
	for name, detail := range want {
		_, err := st.Accept(context.Background(), slices.Clone(samples[name]))
		require.NoError(t, err)
		var details []string
		for _, rc := range samples[name] {
			c, err := st.Change(context.Background(), rc.EventID)
			require.NoError(t, err)
			for _, f := range c.Record.Findings {
				details = append(details, f.Detail)
			}
		}
		require.Len(t, details, 1, name)
		assert.True(t, strings.HasPrefix(details[0], detail), "%s: %s", name, details[0])
	}
}
