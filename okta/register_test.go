package okta_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegisterNeverAsksForIneligibleTypes: a type hookd's table marks ineligible is never
// asked of Okta, only reported; a 400 that names no type asked is returned, not retried.
func TestRegisterNeverAsksForIneligibleTypes(t *testing.T) {
	var mu sync.Mutex
	var bodies []okta.EventHook
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`[]`))
			return
		}
		var h okta.EventHook
		require.NoError(t, json.NewDecoder(r.Body).Decode(&h))
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, h)
		if refuse {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errorCode":"E0000001","errorSummary":"Api validation failed: eventHook","errorCauses":[{"errorSummary":"events: invalid"}]}`))
			return
		}
		h.ID, h.Status = "who1", "ACTIVE"
		_ = json.NewEncoder(w).Encode(h)
	}))
	defer srv.Close()
	c := &okta.Client{OrgURL: srv.URL, Credentials: okta.APIToken("t")}
	r := okta.Registration{
		Name: "hookd", URL: "https://h.example/okta/events", AuthHeader: "Authorization", Secret: "s",
		Watched:  []string{"user.account.privilege.grant", "x.not.eligible"},
		Eligible: func(t string) bool { return t != "x.not.eligible" },
	}
	reg, err := okta.Register(context.Background(), c, r)
	require.NoError(t, err)
	assert.True(t, reg.Created)
	assert.Equal(t, []string{"x.not.eligible"}, reg.Refused)
	assert.Empty(t, reg.NamedByOkta)
	require.Len(t, bodies, 1)
	assert.Equal(t, []string{"user.account.privilege.grant"}, bodies[0].Events.Items)
	assert.Equal(t, okta.SecretID("s"), bodies[0].Header(okta.SecretIDHeader), "a fingerprint, never the secret, in the headers")
	assert.NotEqual(t, "s", okta.SecretID("s"))

	mu.Lock()
	refuse, bodies = true, nil
	mu.Unlock()
	_, err = okta.Register(context.Background(), c, r)
	var apiErr *okta.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.Status)
	assert.Contains(t, err.Error(), "names no event type hookd asked for")
	assert.Len(t, bodies, 1, "not retried")
}

func TestAPIErrorNamesPermission(t *testing.T) {
	e := &okta.APIError{Status: 403, Code: "E0000006", Summary: "You do not have permission"}
	assert.ErrorIs(t, e, okta.ErrForbidden)
	assert.Equal(t, "Okta answered 403 E0000006: You do not have permission", e.Error())
}

// hookdAt answers Okta's one-time verification challenge, as hookd serve does.
func hookdAt(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/okta/events"
}

// eligibleWatched are the watched types hookd's table says a hook can deliver, and the rest.
func eligibleWatched() (eligible, ineligible []string) {
	for _, w := range hook.Watched() {
		if w.HookEligible {
			eligible = append(eligible, w.EventType)
		} else {
			ineligible = append(ineligible, w.EventType)
		}
	}
	return eligible, ineligible
}

// TestRegisterOneRefusalPerAnswer: Okta names one type a hook cannot deliver per answer;
// registration still ends with the hook created, active, verified and subscribed to exactly
// the watched types a hook can deliver.
func TestRegisterOneRefusalPerAnswer(t *testing.T) {
	fake := oktatest.NewEventHooks(t, "manage-token")
	fake.OneRefusalPerAnswer = true
	c := &okta.Client{OrgURL: fake.URL, Credentials: okta.APIToken("manage-token")}
	eligible, ineligible := eligibleWatched()

	reg, err := okta.Register(context.Background(), c, okta.Registration{
		Name: "hookd", URL: hookdAt(t), AuthHeader: "Authorization", Secret: "s",
		Watched: hook.WatchedTypes(), Eligible: hook.HookEligible,
	})
	require.NoError(t, err)
	assert.True(t, reg.Created)
	assert.ElementsMatch(t, ineligible, reg.Refused)
	verified, err := c.VerifyEventHook(context.Background(), reg.Hook.ID)
	require.NoError(t, err)
	assert.Equal(t, "VERIFIED", verified.VerificationStatus)
	assert.Equal(t, "ACTIVE", verified.Status)

	hooks := fake.Hooks()
	require.Len(t, hooks, 1)
	assert.ElementsMatch(t, eligible, hooks[0].Events.Items)
	assert.Equal(t, "VERIFIED", hooks[0].VerificationStatus)
	assert.Equal(t, 1, fake.Writes())
}

// TestRegisterDropsWhatOktaNames: Okta refuses, one per answer, two types hookd's table
// thinks a hook can deliver; both are dropped and reported, and registering again writes
// nothing.
func TestRegisterDropsWhatOktaNames(t *testing.T) {
	fake := oktatest.NewEventHooks(t, "manage-token")
	fake.OneRefusalPerAnswer = true
	fake.Refuse = []string{"group.privilege.revoke", "user.account.privilege.revoke"}
	c := &okta.Client{OrgURL: fake.URL, Credentials: okta.APIToken("manage-token")}
	eligible, ineligible := eligibleWatched()
	r := okta.Registration{
		Name: "hookd", URL: hookdAt(t), AuthHeader: "Authorization", Secret: "s",
		Watched: hook.WatchedTypes(), Eligible: hook.HookEligible,
	}

	reg, err := okta.Register(context.Background(), c, r)
	require.NoError(t, err)
	assert.True(t, reg.Created)
	assert.ElementsMatch(t, fake.Refuse, reg.NamedByOkta)
	assert.ElementsMatch(t, append(slices.Clone(ineligible), fake.Refuse...), reg.Refused)
	attempts := fake.Attempts()
	require.Len(t, attempts, 3, "the first write and one more per type Okta named")
	for _, a := range attempts {
		for _, typ := range ineligible {
			assert.NotContains(t, a, typ, "never asked for a type hookd's table marks ineligible")
		}
	}
	want := slices.DeleteFunc(slices.Clone(eligible), func(t string) bool { return slices.Contains(fake.Refuse, t) })
	hooks := fake.Hooks()
	require.Len(t, hooks, 1)
	assert.ElementsMatch(t, want, hooks[0].Events.Items)
	assert.Equal(t, "ACTIVE", hooks[0].Status)

	reg, err = okta.Register(context.Background(), c, r)
	require.NoError(t, err)
	assert.False(t, reg.Created || reg.Updated, "already as asked, less what Okta refuses")
	assert.ElementsMatch(t, fake.Refuse, reg.NamedByOkta)
	assert.Equal(t, 1, fake.Writes())
}

// TestRegisterIsBounded: however Okta refuses, registration ends, with at most one write per
// type asked, and says why.
func TestRegisterIsBounded(t *testing.T) {
	eligible, _ := eligibleWatched()
	t.Run("Okta refuses every type, one per answer", func(t *testing.T) {
		fake := oktatest.NewEventHooks(t, "manage-token")
		fake.OneRefusalPerAnswer = true
		fake.Refuse = eligible
		c := &okta.Client{OrgURL: fake.URL, Credentials: okta.APIToken("manage-token")}
		reg, err := okta.Register(context.Background(), c, okta.Registration{
			Name: "hookd", URL: hookdAt(t), AuthHeader: "Authorization", Secret: "s",
			Watched: hook.WatchedTypes(), Eligible: hook.HookEligible,
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Okta refused every event type hookd asked a hook for")
		assert.ElementsMatch(t, eligible, reg.NamedByOkta)
		assert.Len(t, fake.Attempts(), len(eligible))
		assert.Empty(t, fake.Hooks())
	})

	for name, causes := range map[string]string{
		"a type not asked":                `[{"errorSummary":"events: Invalid event type: user.session.start is not eligible for event hooks"}]`,
		"a longer name holding one asked": `[{"errorSummary":"events: Invalid event type: xuser.account.privilege.grant.v2 is not eligible"}]`,
		"no type":                         `[{"errorSummary":"channel.config.uri: The URI must use https"}]`,
	} {
		t.Run("Okta names "+name, func(t *testing.T) {
			var mu sync.Mutex
			writes := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					_, _ = w.Write([]byte(`[]`))
					return
				}
				mu.Lock()
				writes++
				mu.Unlock()
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"errorCode":"E0000001","errorSummary":"Api validation failed: eventHook","errorCauses":` + causes + `}`))
			}))
			defer srv.Close()
			c := &okta.Client{OrgURL: srv.URL, Credentials: okta.APIToken("t")}
			_, err := okta.Register(context.Background(), c, okta.Registration{
				Name: "hookd", URL: "https://h.example/okta/events", AuthHeader: "Authorization", Secret: "s",
				Watched: hook.WatchedTypes(), Eligible: hook.HookEligible,
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "names no event type hookd asked for")
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, 1, writes)
		})
	}
}
