package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oktaEvent is a System Log event as Okta writes it, with the targets given.
func oktaEvent(uuid, eventType string, at time.Time, actorID, debug string, targets ...string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":%q,"version":"0","severity":"INFO",
		"displayMessage":%q,"actor":{"id":%q,"type":"User","alternateId":"%s@acme.example","displayName":"User %s"},
		"outcome":{"result":"SUCCESS"},"transaction":{"type":"WEB","id":"tx-%s"},"debugContext":{"debugData":{%s}},
		"target":[%s]}`, uuid, at.UTC().Format("2006-01-02T15:04:05.000Z"), eventType, eventType, actorID, actorID, actorID, uuid, debug,
		strings.Join(targets, ",")))
}

func userTarget(id string) string {
	return fmt.Sprintf(`{"id":%q,"type":"User","alternateId":"%s@acme.example","displayName":"User %s"}`, id, id, id)
}

func groupTarget(id, name string) string {
	return fmt.Sprintf(`{"id":%q,"type":"UserGroup","alternateId":"unknown","displayName":%q}`, id, name)
}

const wfRole = `{"id":"wfr-cm","type":"WorkflowsRole","displayName":"Connection Manager"}`

// membershipStory is the same history told by System Log or by hook: a group gets a Workflows
// role, another an admin privilege; Mallory adds herself to the first, an admin adds Bob to
// the second and Carol to a group that holds nothing; Mallory leaves ten minutes later.
func membershipStory(now time.Time) (uuids []string, events []json.RawMessage) {
	at := now.Add(-time.Hour)
	add := func(uuid string, ev json.RawMessage) {
		uuids, events = append(uuids, uuid), append(events, ev)
	}
	add("g-flow", oktaEvent("g-flow", hook.WorkflowsGroupRoleAdd, at, "00uAdmin", "", groupTarget("00gFlow", "Flow Builders"), wfRole))
	add("g-admins", oktaEvent("g-admins", "group.privilege.grant", at, "00uAdmin", `"privilegeGranted":"Super administrator"`, groupTarget("00gAdmins", "Okta Admins")))
	add("m-mallory", oktaEvent("m-mallory", hookd.GroupMembershipAdd, at.Add(10*time.Minute), "00uMallory", "", userTarget("00uMallory"), groupTarget("00gFlow", "Flow Builders")))
	add("m-bob", oktaEvent("m-bob", hookd.GroupMembershipAdd, at.Add(11*time.Minute), "00uAdmin", "", userTarget("00uBob"), groupTarget("00gAdmins", "Okta Admins")))
	add("m-carol", oktaEvent("m-carol", hookd.GroupMembershipAdd, at.Add(12*time.Minute), "00uAdmin", "", userTarget("00uCarol"), groupTarget("00gLunch", "Lunch Club")))
	add("m-mallory-leaves", oktaEvent("m-mallory-leaves", hookd.GroupMembershipRemove, at.Add(20*time.Minute), "00uMallory", "", userTarget("00uMallory"), groupTarget("00gFlow", "Flow Builders")))
	return uuids, events
}

// checkMembershipStory asserts what the story must alert, once each, and what the ledger must
// hold after it.
func checkMembershipStory(t *testing.T, srv *running, source string) {
	t.Helper()
	alerts := func() []string {
		var out []string
		for _, l := range strings.Split(srv.stdout.String(), "\n") {
			if strings.HasPrefix(l, "ALERT ") {
				out = append(out, l)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(alerts()) >= 5 }, 30*time.Second, 50*time.Millisecond, srv.stderr.String())
	// Nothing more may come: every delivery queued was sent (and, by the System Log, the
	// poller read on for two more cycles first).
	cycles := 0
	if source == "systemlog" {
		cycles = 2
	}
	settle(t, srv.adminAddr, cycles)
	byEvent := map[string]string{}
	for _, l := range alerts() {
		for _, id := range []string{"g-flow", "g-admins", "m-mallory", "m-bob", "m-carol", "m-mallory-leaves"} {
			if strings.Contains(l, `event="`+id+`"`) {
				require.NotContains(t, byEvent, id, "alerted once: %s", l)
				byEvent[id] = l
			}
		}
	}
	assert.Len(t, byEvent, 5, "%v", byEvent)
	assert.NotContains(t, byEvent, "m-carol", "the Lunch Club holds nothing watched")
	mallory := byEvent["m-mallory"]
	assert.Contains(t, mallory, "ALERT critical Workflows role granted through group membership")
	assert.Contains(t, mallory, `roles="Connection Manager"`)
	assert.Contains(t, mallory, `via_group="Flow Builders"`)
	assert.Contains(t, mallory, hookd.FindingSelfGrant, "Mallory added herself")
	assert.Contains(t, mallory, "source="+source)
	assert.Contains(t, byEvent["m-bob"], "ALERT critical Okta admin privilege granted through group membership")
	assert.Contains(t, byEvent["m-bob"], `roles="Super administrator"`)
	leaves := byEvent["m-mallory-leaves"]
	assert.Contains(t, leaves, "ALERT high Workflows role revoked through group membership")
	assert.Contains(t, leaves, hookd.FindingShortLived)

	var holders []adminapi.Holder
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, "http://"+srv.adminAddr+"/api/v1/holders")), &holders))
	via := map[string]string{}
	for _, h := range holders {
		if h.Via != "" {
			via[h.SubjectID+" "+h.Role] = h.Via
		}
	}
	assert.Equal(t, map[string]string{"00uBob Super administrator": "Okta Admins"}, via, "Bob holds it through the group; Mallory left")
	assert.NotContains(t, srv.stdout.String()+srv.stderr.String(), "okta-api-token")
}

// TestMembershipBySystemLog: with only the System Log (the path the Workflows events take),
// memberships of role-holding groups are alerted as the groups' roles, once, with their
// findings, and the ledger holds each member through their group.
func TestMembershipBySystemLog(t *testing.T) {
	okta := systemlogtest.NewOkta(t, "okta-api-token")
	_, events := membershipStory(time.Now())
	// Okta writes a group's role before anyone joins it; the poller reads in that order.
	for i, ev := range events {
		var head struct {
			EventType string
			Published time.Time
		}
		require.NoError(t, json.Unmarshal(ev, &head), i)
		okta.AddRaw(head.EventType, head.Published, ev)
	}
	srv := start(t, map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": "okta-api-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s", "HOOKD_GROUP_WINDOW": "0s",
		"HOOKD_SYSTEMLOG_LOOK_BACK": "2h",
	})
	checkMembershipStory(t, srv, "systemlog")
}

// TestMembershipByHook: the same by event-hook deliveries (the group's Workflows role, which no
// hook delivers, by the System Log's copy posted as Okta would), then every delivery again:
// redeliveries alert nothing.
func TestMembershipByHook(t *testing.T) {
	const secret = "membership-hook-secret"
	srv := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret, "HOOKD_GROUP_WINDOW": "0s"})
	_, events := membershipStory(time.Now())
	for round := range 2 {
		for _, ev := range events {
			status := postDelivery(t, srv.addr, secret, oktagen.Delivery(ev))
			require.Equal(t, http.StatusOK, status, "round %d", round)
		}
	}
	checkMembershipStory(t, srv, "hook")
}

// TestGroupRuleJoinsGoOutTogether: a group rule adding 2,000 members at once (the system as
// actor, a transaction each) is one action to alert, sent as a few messages, not 2,000.
func TestGroupRuleJoinsGoOutTogether(t *testing.T) {
	const members, secret = 2000, "rule-secret"
	var mu sync.Mutex
	posts := 0
	seen := map[string]int{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var doc struct {
			Alerts []struct {
				EventID string `json:"eventId"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		posts++
		for _, a := range doc.Alerts {
			seen[a.EventID]++
		}
	}))
	t.Cleanup(sink.Close)
	srv := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret,
		"HOOKD_WEBHOOK_URL": sink.URL, "HOOKD_WEBHOOK_SECRET": webhookSecret, "HOOKD_GROUP_WINDOW": "500ms",
		"HOOKD_HTTP_ACCEPT_TIMEOUT": "60s"})
	now := time.Now()
	grant := oktaEvent("g-flow", hook.WorkflowsGroupRoleAdd, now.Add(-time.Hour), "00uAdmin", "", groupTarget("00gFlow", "Flow Builders"), wfRole)
	require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, secret, oktagen.Delivery(grant)))
	for start := 0; start < members; start += 500 {
		var batch []json.RawMessage
		for i := start; i < start+500; i++ {
			ev := oktaEvent(fmt.Sprintf("rule-%04d", i), hookd.GroupMembershipAdd, now, "0oarule", "", userTarget(fmt.Sprintf("00u%04d", i)), groupTarget("00gFlow", "Flow Builders"))
			batch = append(batch, json.RawMessage(strings.Replace(string(ev), `"type":"User","alternateId":"0oarule@acme.example"`, `"type":"SystemPrincipal","alternateId":"system@okta.com"`, 1)))
		}
		raw := make([][]byte, len(batch))
		for i, b := range batch {
			raw[i] = b
		}
		require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, secret, oktagen.Delivery(raw...)))
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == members+1
	}, 60*time.Second, 50*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		require.Equal(t, 1, n, "%s arrived once", id)
	}
	assert.LessOrEqual(t, posts, members/100+10, "grouped: %d posts for %d joins", posts, members)
}
