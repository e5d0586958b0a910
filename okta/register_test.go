package okta_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hookd/hookd/okta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegisterDropsIneligibleTypesOnAnUnnamed400: when Okta refuses the types without naming
// them, the types hookd's own table marks ineligible are dropped and the write tried once
// more; other 400s are returned as they are.
func TestRegisterDropsIneligibleTypesOnAnUnnamed400(t *testing.T) {
	var mu sync.Mutex
	var bodies []okta.EventHook
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`[]`))
			return
		}
		var h okta.EventHook
		require.NoError(t, json.NewDecoder(r.Body).Decode(&h))
		mu.Lock()
		bodies = append(bodies, h)
		mu.Unlock()
		for _, it := range h.Events.Items {
			if it == "x.not.eligible" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"errorCode":"E0000001","errorSummary":"Api validation failed: eventHook","errorCauses":[{"errorSummary":"events: invalid"}]}`))
				return
			}
		}
		h.ID, h.Status = "who1", "ACTIVE"
		_ = json.NewEncoder(w).Encode(h)
	}))
	defer srv.Close()
	c := &okta.Client{OrgURL: srv.URL, Credentials: okta.APIToken("t")}
	reg, err := okta.Register(context.Background(), c, okta.Registration{
		Name: "hookd", URL: "https://h.example/okta/events", AuthHeader: "Authorization", Secret: "s",
		Watched:  []string{"user.account.privilege.grant", "x.not.eligible"},
		Eligible: func(t string) bool { return t != "x.not.eligible" },
	})
	require.NoError(t, err)
	assert.True(t, reg.Created)
	assert.Equal(t, []string{"x.not.eligible"}, reg.Refused)
	require.Len(t, bodies, 2)
	assert.Equal(t, []string{"user.account.privilege.grant"}, bodies[1].Events.Items)
	assert.Equal(t, okta.SecretID("s"), bodies[1].Header(okta.SecretIDHeader), "a fingerprint, never the secret, in the headers")
	assert.NotEqual(t, "s", okta.SecretID("s"))
}

func TestAPIErrorNamesPermission(t *testing.T) {
	e := &okta.APIError{Status: 403, Code: "E0000006", Summary: "You do not have permission"}
	assert.ErrorIs(t, e, okta.ErrForbidden)
	assert.Equal(t, "Okta answered 403 E0000006: You do not have permission", e.Error())
}
