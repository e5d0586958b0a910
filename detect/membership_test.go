package detect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// joined is a membership the store resolved against its ledger: the group's role given (or,
// left, taken) through the group.
func joined(id string, at time.Duration, actor, user, group string, left bool, role string) *hookd.RoleChange {
	action := hookd.Granted
	eventType := hookd.GroupMembershipAdd
	if left {
		action, eventType = hookd.Revoked, hookd.GroupMembershipRemove
	}
	rc := change(id, at, actor, user, action, role)
	rc.EventType, rc.Via = eventType, &hookd.Ref{ID: group, Type: "UserGroup", DisplayName: group}
	return rc
}

// Detections read a role given through a group like any grant.
func TestFindingsOnMembershipDerivedGrants(t *testing.T) {
	t.Run("joining a privileged group yourself is a self-grant", func(t *testing.T) {
		s := Settings{SelfGrant: true}
		self := joined("a", 0, "mallory", "mallory", "00gAdmins", false, "Workflows Administrator")
		byAdmin := joined("b", time.Minute, "alice", "bob", "00gAdmins", false, "Workflows Administrator")
		_, err := s.Detect(context.Background(), &past{}, []*hookd.RoleChange{self, byAdmin})
		require.NoError(t, err)
		require.Equal(t, []string{hookd.FindingSelfGrant}, ids(self))
		assert.Equal(t, "critical", self.Findings[0].Severity)
		assert.Empty(t, ids(byAdmin))
	})
	t.Run("a short membership is short-lived, from the batch and from the ledger", func(t *testing.T) {
		s := Settings{ShortLived: time.Hour}
		// The store's History gives what a user held through a group as a holding of theirs.
		h := &past{holdings: map[string][]Holding{"user:bob": {{Role: "r-Connection Manager", Via: "00gFlow", RoleName: "Connection Manager", Held: true, At: t0.Add(-20 * time.Minute), By: "alice"}}}}
		bobLeaves := joined("a", 0, "alice", "bob", "00gFlow", true, "Connection Manager")
		carolJoins := joined("b", time.Minute, "alice", "carol", "00gFlow", false, "Connection Manager")
		carolLeaves := joined("c", 11*time.Minute, "alice", "carol", "00gFlow", true, "Connection Manager")
		_, err := s.Detect(context.Background(), h, []*hookd.RoleChange{carolLeaves, bobLeaves, carolJoins})
		require.NoError(t, err)
		assert.Equal(t, []string{hookd.FindingShortLived}, ids(bobLeaves))
		assert.Equal(t, []string{hookd.FindingShortLived}, ids(carolLeaves))
		assert.Contains(t, carolLeaves.Findings[0].Detail, "for only 10 minutes")
		assert.Empty(t, ids(carolJoins))
	})
	t.Run("a role held directly and through a group is two holdings", func(t *testing.T) {
		s := Settings{ShortLived: time.Hour}
		// Alice has held it directly for a year; she joins a group holding it, and five minutes
		// later her direct role is revoked: not short-lived. Leaving the group would be.
		h := &past{holdings: map[string][]Holding{"user:alice": {{Role: "r-Connection Manager", RoleName: "Connection Manager", Held: true, At: t0.Add(-365 * 24 * time.Hour), By: "admin"}}}}
		joins := joined("a", 0, "admin", "alice", "00gFlow", false, "Connection Manager")
		direct := change("b", 5*time.Minute, "admin", "alice", hookd.Revoked, "Connection Manager")
		leaves := joined("c", 6*time.Minute, "admin", "alice", "00gFlow", true, "Connection Manager")
		_, err := s.Detect(context.Background(), h, []*hookd.RoleChange{joins, direct, leaves})
		require.NoError(t, err)
		assert.Empty(t, ids(direct), "the direct holding is a year old")
		assert.Equal(t, []string{hookd.FindingShortLived}, ids(leaves))
	})
	t.Run("memberships count toward a burst", func(t *testing.T) {
		s := Settings{BurstSubjects: 3, BurstWindow: 10 * time.Minute}
		var batch []*hookd.RoleChange
		for i := range 5 {
			batch = append(batch, joined(fmt.Sprint(i), time.Duration(i)*time.Minute, "alice", fmt.Sprintf("user%d", i), "00gFlow", false, "Connection Manager"))
		}
		_, err := s.Detect(context.Background(), &past{}, batch)
		require.NoError(t, err)
		var flagged []string
		for _, rc := range batch {
			if len(rc.Findings) > 0 {
				flagged = append(flagged, rc.EventID)
			}
		}
		assert.Equal(t, []string{"3"}, flagged, "the fourth subject within the window makes the burst")
	})
	t.Run("a membership the store did not resolve is read as nothing", func(t *testing.T) {
		s := Settings{SelfGrant: true, ShortLived: time.Hour, BurstSubjects: 1, BurstWindow: time.Hour}
		rc := joined("a", 0, "mallory", "mallory", "00gLunch", false, "")
		rc.Category, rc.Roles = hookd.Membership, []hookd.Role{}
		_, err := s.Detect(context.Background(), &past{}, []*hookd.RoleChange{rc})
		require.NoError(t, err)
		assert.Empty(t, ids(rc))
	})
}
