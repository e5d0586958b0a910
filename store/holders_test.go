package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ledgerHistory is a crafted history: grants, revokes, a re-grant, a failed grant, a group
// holding, an admin privilege without a role id, and a tampering record.
func ledgerHistory() []hookd.RoleChange {
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	change := func(n int, minutes int, action hookd.Action, kind hookd.SubjectKind, subject, role, roleID string) hookd.RoleChange {
		rc := record(fmt.Sprintf("ledger-%02d", n))
		rc.Published = base.Add(time.Duration(minutes) * time.Minute)
		rc.Action = action
		rc.Subject = hookd.Subject{Kind: kind, ID: subject, DisplayName: "Name of " + subject}
		rc.Roles = []hookd.Role{{Name: role, ID: roleID}}
		rc.Actor = hookd.Ref{ID: "00uADMIN", Login: "alice@example.com"}
		return rc
	}
	failed := change(5, 50, hookd.Granted, hookd.SubjectUser, "00uEVE", "Workflows Administrator", "wfrADMIN")
	failed.Outcome.Result = "FAILURE"
	privilege := change(7, 70, hookd.Granted, hookd.SubjectUser, "00uBOB", "Super administrator", "")
	privilege.Category = hookd.AdminPrivilege
	tamper := change(8, 80, hookd.Deactivated, hookd.SubjectEventHook, "who0hook", "", "")
	tamper.Category = hookd.Tampering
	tamper.Roles = nil
	return []hookd.RoleChange{
		change(1, 10, hookd.Granted, hookd.SubjectUser, "00uBOB", "Workflows Administrator", "wfrADMIN"),
		change(2, 20, hookd.Revoked, hookd.SubjectUser, "00uBOB", "Workflows Administrator", "wfrADMIN"),
		change(3, 30, hookd.Granted, hookd.SubjectUser, "00uCAROL", "Folder Editor", "wfrEDIT"),
		change(4, 40, hookd.Revoked, hookd.SubjectUser, "00uCAROL", "Folder Editor", "wfrEDIT"),
		change(9, 45, hookd.Granted, hookd.SubjectUser, "00uCAROL", "Folder Editor", "wfrEDIT"), // granted again
		failed, // changes nothing
		change(6, 60, hookd.Granted, hookd.SubjectGroup, "00gOPS", "Connection Manager", "wfrCONN"),
		privilege,
		tamper,
	}
}

func holderKeys(hs []adminapi.Holder) []string {
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s %s %s since %s by %s (%s)", h.SubjectKind, h.SubjectID, h.Role, h.Since.Format("15:04"), h.EventID, h.KnownBy))
	}
	return out
}

// TestLedgerEndsTheSameInAnyOrder: one event at a time, in batches, in shuffled orders, twice
// over: the ledger is the effect of the newest event of each (subject, role).
func TestLedgerEndsTheSameInAnyOrder(t *testing.T) {
	want := []string{
		"group 00gOPS Connection Manager since 10:00 by ledger-06 (event)",
		"user 00uCAROL Folder Editor since 09:45 by ledger-09 (event)",
		"user 00uBOB Super administrator since 10:10 by ledger-07 (event)",
	}
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			for trial := range 6 {
				s := open(t, be.fresh(t))
				history := ledgerHistory()
				rng.Shuffle(len(history), func(i, j int) { history[i], history[j] = history[j], history[i] })
				batch := 1 + trial%3 // one at a time, in pairs, in threes
				for start := 0; start < len(history); start += batch {
					_, err := s.Accept(ctx, history[start:min(start+batch, len(history))])
					require.NoError(t, err)
				}
				_, err := s.Accept(ctx, history) // a redelivery of everything changes nothing
				require.NoError(t, err)
				got, err := s.Holders(ctx, "")
				require.NoError(t, err)
				assert.Equal(t, want, holderKeys(got), "trial %d", trial)
				require.NoError(t, s.Close())
			}
		})
	}
}

func TestHoldersFilterAndRebuild(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			o := be.fresh(t)
			s := open(t, o)
			_, err := s.Accept(ctx, ledgerHistory())
			require.NoError(t, err)
			got, err := s.Holders(ctx, "folder*")
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, "CAROL", got[0].SubjectID[3:])
			assert.Equal(t, "alice@example.com", got[0].GrantedBy)
			_, err = s.Holders(ctx, "[")
			assert.ErrorIs(t, err, adminapi.ErrBadRequest)

			// A store whose ledger was never built (an older hookd) builds it at start.
			before, err := s.Holders(ctx, "")
			require.NoError(t, err)
			_, err = s.DB().Exec(`DELETE FROM hookd_holding`)
			require.NoError(t, err)
			_, err = s.DB().Exec(`DELETE FROM hookd_state WHERE name = 'ledger'`)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			s = open(t, o)
			after, err := s.Holders(ctx, "")
			require.NoError(t, err)
			assert.Equal(t, holderKeys(before), holderKeys(after))
		})
	}
}

// Trim drops the idle connections (and the buffers large deliveries grew in them); the store
// goes on working on fresh ones.
func TestTrimKeepsTheStoreWorking(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			_, err := st.Accept(context.Background(), records("before-trim"))
			require.NoError(t, err)
			st.Trim()
			if st.dialect == postgres {
				assert.Zero(t, st.db.Stats().Idle, "the idle connections are closed")
			}
			res, err := st.Accept(context.Background(), records("after-trim"))
			require.NoError(t, err)
			assert.Equal(t, 1, res.Accepted)
		})
	}
}
