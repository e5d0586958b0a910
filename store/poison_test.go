package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// collector is a Deliverer that keeps every change it was handed, by event uuid.
type collector struct {
	mu  sync.Mutex
	got map[string][]*hookd.RoleChange
}

func (c *collector) Deliver(_ context.Context, _ string, changes []*hookd.RoleChange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got = map[string][]*hookd.RoleChange{}
	}
	for _, rc := range changes {
		c.got[rc.EventID] = append(c.got[rc.EventID], rc)
	}
	return nil
}

func (c *collector) deliveries(id string) []*hookd.RoleChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*hookd.RoleChange(nil), c.got[id]...)
}

func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.got {
		n += len(v)
	}
	return n
}

// TestHostileStringsAreStoredLosslessly: whatever Okta's strings hold (NUL, invalid UTF-8,
// text that looks like hookd's own key encoding), the event is stored, read back exactly,
// de-duplicated and delivered, on both databases.
func TestHostileStringsAreStoredLosslessly(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			o := be.fresh(t)
			o.Sinks = []string{"console"}
			c := &collector{}
			o.Deliverer = c
			o.FetchPollInterval = 20 * time.Millisecond
			o.GroupWindow = 50 * time.Millisecond
			s := open(t, o)
			ctx := context.Background()
			require.NoError(t, s.Start(ctx))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })

			nulName := record("nul-in-name")
			nulName.Subject.DisplayName = "Bob\x00Builder"
			nulName.Actor = hookd.Ref{ID: "00u\x00a", DisplayName: "Eve\x00"}
			nulName.TransactionID = "tx\x00"
			nulName.Raw = []byte(`{"uuid":"nul-in-name","displayName":"Bob\u0000Builder"}`)

			badUTF8 := record("bad-utf8")
			badUTF8.Raw = []byte("{\"uuid\":\"bad-utf8\",\"displayName\":\"\xff\xfe\xc3\"}")
			badUTF8.Subject.DisplayName = "\xff\xfe"

			nulUUID := record("uuid\x00with-nul")
			lookalike := record(keyPrefix + "dXVpZAB3aXRoLW51bA") // what dbKey makes of nulUUID's uuid, if it were not one to one

			res, err := s.Accept(ctx, []hookd.RoleChange{nulName, badUTF8, nulUUID, lookalike})
			require.NoError(t, err)
			assert.Equal(t, 4, res.Accepted, "every event stored")
			assert.Zero(t, res.Unstored)

			res, err = s.Accept(ctx, []hookd.RoleChange{nulName, badUTF8, nulUUID, lookalike})
			require.NoError(t, err)
			assert.Equal(t, hookd.AcceptResult{Duplicates: 4}, counts(res), "a redelivery is recognised")

			for _, want := range []hookd.RoleChange{nulName, badUTF8, nulUUID, lookalike} {
				got, err := s.Record(ctx, want.EventID)
				require.NoError(t, err, want.EventID)
				assert.Equal(t, want.EventID, got.EventID)
				assert.Equal(t, string(want.Raw), string(got.Raw), "raw kept byte for byte")
				assert.Empty(t, got.StorageProblem)
			}
			got, err := s.Record(ctx, nulName.EventID)
			require.NoError(t, err)
			assert.Equal(t, "Bob\x00Builder", got.Subject.DisplayName, "NUL survives the round trip")
			assert.Equal(t, "tx\x00", got.TransactionID)

			require.Eventually(t, func() bool { return c.total() == 4 }, 10*time.Second, 20*time.Millisecond)
			for _, want := range []hookd.RoleChange{nulName, badUTF8, nulUUID, lookalike} {
				assert.Len(t, c.deliveries(want.EventID), 1, "alerted once: %q", want.EventID)
			}
		})
	}
}

// refuse makes the database refuse any event whose uuid starts with "poison", the way a value
// it cannot store would: a stand-in for causes hookd does not know of yet.
func refuse(t *testing.T, s *Store) {
	t.Helper()
	var stmts []string
	if s.Dialect() == "postgres" {
		stmts = []string{
			`CREATE FUNCTION hookd_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$`,
			`CREATE TRIGGER hookd_test_refuse BEFORE INSERT ON hookd_event FOR EACH ROW WHEN (NEW.uuid LIKE 'poison%') EXECUTE FUNCTION hookd_test_refuse()`,
		}
	} else {
		stmts = []string{`CREATE TRIGGER hookd_test_refuse BEFORE INSERT ON hookd_event WHEN NEW.uuid LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`}
	}
	for _, q := range stmts {
		_, err := s.DB().Exec(q)
		require.NoError(t, err)
	}
}

// TestRefusedEventFailsNoOneElse: requests share a commit, so an event the database refuses
// must not fail the others; the refused one is still alerted, flagged, exactly once.
func TestRefusedEventFailsNoOneElse(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			o := be.fresh(t)
			o.Sinks = []string{"console", "webhook"}
			c := &collector{}
			o.Deliverer = c
			o.FetchPollInterval = 20 * time.Millisecond
			s := open(t, o)
			refuse(t, s)
			ctx := context.Background()
			require.NoError(t, s.Start(ctx))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })

			// Many concurrent requests, so that groups hold several; one in ten is poisoned.
			const requests = 200
			var wg sync.WaitGroup
			results := make([]hookd.AcceptResult, requests)
			errs := make([]error, requests)
			for i := range requests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ids := []string{fmt.Sprintf("good-%d-a", i), fmt.Sprintf("good-%d-b", i)}
					if i%10 == 0 {
						ids = append(ids, fmt.Sprintf("poison-%d", i))
					}
					results[i], errs[i] = s.Accept(ctx, records(ids...))
				}()
			}
			wg.Wait()
			unstored := 0
			for i := range requests {
				require.NoError(t, errs[i], "request %d answered by its own outcome", i)
				want := 2
				if i%10 == 0 {
					want = 3
					assert.Equal(t, 1, results[i].Unstored, "request %d", i)
					assert.Contains(t, results[i].Problem, "refused by test")
				}
				assert.Equal(t, want, results[i].Accepted, "request %d", i)
				unstored += results[i].Unstored
			}
			assert.Equal(t, requests/10, unstored)
			assert.Equal(t, 2*requests, count(t, s, "SELECT count(*) FROM hookd_event"), "every good event stored")

			// Each poisoned event reaches every sink once, flagged.
			// 820 deliveries: about 20 s under the race detector on SQLite, so allow more.
			require.Eventually(t, func() bool { return c.total() == 2*(2*requests+requests/10) }, 60*time.Second, 20*time.Millisecond)
			for i := 0; i < requests; i += 10 {
				got := c.deliveries(fmt.Sprintf("poison-%d", i))
				require.Len(t, got, 2, "one per sink")
				assert.Contains(t, got[0].StorageProblem, "could not store")
				assert.Equal(t, hook.WorkflowsUserRoleAdd, got[0].EventType, "the record travelled whole")
			}
		})
	}
}

// TestHugeValuesAreClippedInTheRecordOnly: a record keeps strings up to 64 KiB and says when
// it shortened one; the raw event keeps everything, and the caller's record is not changed.
func TestHugeValuesAreClippedInTheRecordOnly(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), Sinks: []string{"console"}})
	huge := strings.Repeat("é", 100<<10) // 200 KiB, two bytes a rune
	rc := record("huge")
	rc.Subject.DisplayName = huge
	rc.Roles = []hookd.Role{{Name: "Folder Editor"}, {Name: huge}}
	rc.Raw = []byte(`{"uuid":"huge","displayName":"` + huge + `"}`)
	_, err := s.Accept(context.Background(), []hookd.RoleChange{rc})
	require.NoError(t, err)

	got, err := s.Record(context.Background(), "huge")
	require.NoError(t, err)
	assert.Less(t, len(got.Subject.DisplayName), 65<<10)
	assert.True(t, utf8.ValidString(got.Subject.DisplayName), "clipped on a rune boundary")
	assert.Equal(t, "Folder Editor", got.Roles[0].Name)
	assert.Less(t, len(got.Roles[1].Name), 65<<10)
	assert.Contains(t, strings.Join(got.Incomplete, " "), "shortened")
	assert.Equal(t, string(rc.Raw), string(got.Raw), "the raw event is whole")
	assert.Equal(t, huge, rc.Subject.DisplayName, "the caller's record is untouched")
	assert.Equal(t, huge, rc.Roles[1].Name, "the caller's slices are untouched")
}
