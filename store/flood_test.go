package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pacedSink is a Summarizer whose sink "slack" is paced and "webhook" is not; it keeps what
// each took, alerts one by one and summaries apart.
type pacedSink struct {
	mu        sync.Mutex
	alerts    map[string][]string
	summaries []hookd.Summary
}

func (p *pacedSink) Deliver(_ context.Context, sink string, changes []*hookd.RoleChange) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rc := range changes {
		p.alerts[sink] = append(p.alerts[sink], rc.EventID)
	}
	return nil
}

func (p *pacedSink) Paced() map[string]int { return map[string]int{"slack": 10} }

func (p *pacedSink) Summarize(_ context.Context, sink string, s hookd.Summary) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sink != "slack" {
		return fmt.Errorf("summary to %s", sink)
	}
	p.summaries = append(p.summaries, s)
	return nil
}

func (p *pacedSink) took(sink string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.alerts[sink]...)
}

// TestFloodIsFoldedForPacedSinksOnly: a paced sink's backlog beyond a minute's worth is folded
// into one summary: the most severe and oldest alerts that fit in the minute go one by one,
// every critical one too however many, the rest are counted in the summary (by severity and
// actor) and recorded as delivered by it; the unpaced sink gets every alert one by one.
func TestFloodIsFoldedForPacedSinksOnly(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			o := be.fresh(t)
			d := &pacedSink{alerts: map[string][]string{}}
			o.Sinks, o.Deliverer, o.Unfolded, o.FetchPollInterval = []string{"slack", "webhook"}, d, 4, 20*time.Millisecond
			rank := map[string]int{"crit": 4, "high": 3, "low": 1}
			o.Severity = func(rc *hookd.RoleChange) (string, int) { return rc.Roles[0].Name, rank[rc.Roles[0].Name] }
			s := open(t, o)
			var flood []hookd.RoleChange
			add := func(kind string, n int, actor string) {
				for i := range n {
					rc := record(fmt.Sprintf("%s-%03d", kind, i))
					rc.Roles[0].Name, rc.Actor = kind, hookd.Ref{ID: "00u" + actor, DisplayName: actor}
					rc.Published = rc.Published.Add(time.Duration(len(flood)) * time.Second)
					flood = append(flood, rc)
				}
			}
			add("low", 30, "Mallory")
			add("high", 25, "Alice")
			add("crit", 12, "Eve <!here>")
			_, err := s.Accept(context.Background(), flood)
			require.NoError(t, err)

			folded, err := s.fold(context.Background(), "webhook", 0)
			require.NoError(t, err)
			assert.Zero(t, folded, "an unpaced sink is never folded")
			folded, err = s.fold(context.Background(), "slack", 10)
			require.NoError(t, err)
			assert.Equal(t, 55, folded, "12 critical stay (more than a minute's worth), no room for the rest")
			again, err := s.fold(context.Background(), "slack", 20)
			require.NoError(t, err)
			assert.Zero(t, again, "what is left fits in a minute")

			require.NoError(t, s.Start(context.Background()))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			require.Eventually(t, func() bool {
				c, err := s.JobCounts(context.Background())
				return err == nil && c["pending"] == 0
			}, 10*time.Second, 20*time.Millisecond)
			assert.Len(t, d.took("webhook"), 67, "the webhook gets every alert one by one")
			slack := d.took("slack")
			assert.Len(t, slack, 12)
			for _, id := range slack {
				assert.Contains(t, id, "crit-", "only critical alerts went one by one")
			}
			require.Len(t, d.summaries, 1)
			sum := d.summaries[0]
			assert.Equal(t, 55, sum.Changes)
			assert.Equal(t, map[int]int{3: 25, 1: 30}, sum.BySeverity)
			assert.Equal(t, []hookd.ActorCount{{Name: "Mallory", Count: 30}, {Name: "Alice", Count: 25}}, sum.Actors)
			assert.Equal(t, 55, sum.ActorsOf)
			assert.True(t, sum.Oldest.Equal(flood[0].Published))
			assert.True(t, sum.Newest.Equal(flood[54].Published))
			assert.Equal(t, 67, count(t, s, `SELECT count(*) FROM hookd_delivery WHERE sink = 'slack' AND state = 'delivered' AND event <> ''`),
				"each folded alert is recorded as delivered by the summary")
			page, err := s.Changes(context.Background(), adminapi.ChangeFilter{Limit: 100})
			require.NoError(t, err)
			for _, c := range page.Changes {
				for _, del := range c.Deliveries {
					assert.Equal(t, adminapi.StateDelivered, del.State, "%s to %s", c.Record.EventID, del.Sink)
				}
			}
		})
	}
}

// TestFoldKeepsAMinutesWorthMostSevereFirst: with room in the minute, the most severe and
// oldest alerts stay to go one by one, and one message of the minute is the summary's.
func TestFoldKeepsAMinutesWorthMostSevereFirst(t *testing.T) {
	o := Options{DataDir: t.TempDir(), Sinks: []string{"slack"}, Unfolded: 4}
	o.Severity = func(rc *hookd.RoleChange) (string, int) {
		if rc.Roles[0].Name == "high" {
			return "high", 3
		}
		return "low", 1
	}
	s := open(t, o)
	var flood []hookd.RoleChange
	for i := range 40 {
		rc := record(fmt.Sprintf("e-%03d", i))
		rc.Roles[0].Name = map[bool]string{true: "high", false: "low"}[i%4 == 3]
		flood = append(flood, rc)
	}
	_, err := s.Accept(context.Background(), flood)
	require.NoError(t, err)
	folded, err := s.fold(context.Background(), "slack", 15)
	require.NoError(t, err)
	assert.Equal(t, 26, folded)
	kept := count(t, s, `SELECT count(*) FROM hookd_delivery WHERE state = 'pending' AND event <> ''`)
	highs := count(t, s, `SELECT count(*) FROM hookd_delivery WHERE state = 'pending' AND severity = 3 AND event <> ''`)
	assert.Equal(t, 14, kept, "a minute's worth less the summary's message")
	assert.Equal(t, 10, highs, "every high alert is among them")
	assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM hookd_delivery WHERE state = 'pending' AND event = '' AND severity = 3`),
		"one summary, as severe as the most severe alert it stands for")
}

// TestSummaryOfANewSeverityGoesOut: a flood folded after the workers started, into a summary
// of a severity no row had before (critical and low alerts: the summary is high), is sent.
func TestSummaryOfANewSeverityGoesOut(t *testing.T) {
	d := &pacedSink{alerts: map[string][]string{}}
	o := Options{DataDir: t.TempDir(), Sinks: []string{"slack"}, Deliverer: d, Unfolded: 4, FetchPollInterval: 20 * time.Millisecond}
	o.Severity = func(rc *hookd.RoleChange) (string, int) {
		if rc.Roles[0].Name == "crit" {
			return "critical", 4
		}
		return "low", 1
	}
	s := open(t, o)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	s.workers.block("slack", time.Now().Add(time.Hour)) // held back, as a paced sink under a flood
	var flood []hookd.RoleChange
	for i := range 40 {
		rc := record(fmt.Sprintf("n-%03d", i))
		rc.Roles[0].Name = map[bool]string{true: "crit", false: "low"}[i < 4]
		flood = append(flood, rc)
	}
	_, err := s.Accept(context.Background(), flood)
	require.NoError(t, err)
	folded, err := s.fold(context.Background(), "slack", 10)
	require.NoError(t, err)
	assert.Equal(t, 31, folded, "4 critical and 5 low stay, the summary takes a message")
	s.workers.mu.Lock()
	delete(s.workers.blocked, "slack")
	s.workers.mu.Unlock()
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.summaries) == 1
	}, 10*time.Second, 20*time.Millisecond, "the summary of a lane no row had before is claimed")
	assert.Equal(t, 31, d.summaries[0].Changes)
}
