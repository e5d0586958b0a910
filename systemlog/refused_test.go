package systemlog

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenRefusalsSayWhatOktaSaid: when Okta's token endpoint refuses the service app, the
// report, the readiness text and the import carry Okta's error, not a guess: "check the
// credentials" sends the operator to the API token for an app that lacks a grant.
func TestTokenRefusalsSayWhatOktaSaid(t *testing.T) {
	tests := []struct {
		name     string
		clientID string
		refuse   func(*oktatest.OAuth)
		want     []string
	}{
		{"scope not granted", "0oaPoller", func(o *oktatest.OAuth) { o.SetScopes("okta.groups.read") },
			[]string{"token request refused by Okta: HTTP 400 invalid_scope", "The following scopes are not allowed: okta.logs.read"}},
		{"client unknown", "0oaSomeoneElse", func(*oktatest.OAuth) {},
			[]string{"token request refused by Okta: HTTP 401 invalid_client", "The client_assertion is invalid."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.add("ev", hook.WorkflowsUserRoleAdd, 1)
			oauth, key := dpopOrg(t, f)
			tt.refuse(oauth)
			p := newDPoPPoller(t, f, oauth, key, tt.clientID)
			ctx := context.Background()

			require.NoError(t, p.Poll(ctx))
			rep := f.last()
			assert.Equal(t, ResultUnauthorized, rep.Result)
			require.Error(t, rep.Err)
			assert.ErrorIs(t, rep.Err, okta.ErrTokenRefused)
			ready := p.Ready(ctx)
			require.Error(t, ready, "not ready while Okta refuses the app")
			for _, text := range []string{rep.Err.Error(), ready.Error()} {
				for _, w := range tt.want {
					assert.Contains(t, text, w)
				}
				assert.NotContains(t, text, "check the credentials")
				assert.NotContains(t, text, "HTTP 401 from", "no API answer to quote: Okta's token endpoint answered")
			}

			// Stopped: no token request a cycle, each of which Okta would log.
			asked := oauth.TokenRequests()
			require.NoError(t, p.Poll(ctx))
			assert.Equal(t, ResultStopped, f.last().Result)
			assert.Equal(t, asked, oauth.TokenRequests())

			_, err := p.Import(ctx, f.store, f.clock.Now().Add(-time.Hour), true, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrImportCredentials)
			assert.ErrorIs(t, err, okta.ErrTokenRefused)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "check the credentials")
			assert.NotContains(t, err.Error(), "HOOKD_OKTA_API_TOKEN", "not a guess at the other kind of credential")
		})
	}
}

// TestAPIRefusalsNameWhatIsMissing: a 401 from the API itself (an SSWS token revoked) keeps
// the generic advice; a 403 names the permission reading the System Log needs.
func TestAPIRefusalsNameWhatIsMissing(t *testing.T) {
	tests := []struct {
		status int
		want   []string
	}{
		{http.StatusUnauthorized, []string{"HTTP 401 from", "check the credentials (HOOKD_OKTA_API_TOKEN"}},
		{http.StatusForbidden, []string{"HTTP 403 from", "okta.logs.read"}},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action"}`))
			}))
			t.Cleanup(org.Close)
			f := newFixture(t)
			var reports []Report
			p, err := New(Config{OrgURL: org.URL, Credentials: okta.APIToken("ssws-token"), Store: f.store, Now: f.clock.Now,
				Report: func(r Report) { reports = append(reports, r) }})
			require.NoError(t, err)
			ctx := context.Background()

			require.NoError(t, p.Poll(ctx))
			require.Len(t, reports, 1)
			assert.Equal(t, ResultUnauthorized, reports[0].Result)
			ready := p.Ready(ctx)
			require.Error(t, ready)
			for _, text := range []string{reports[0].Err.Error(), ready.Error()} {
				for _, w := range tt.want {
					assert.Contains(t, text, w)
				}
				assert.NotContains(t, text, "ssws-token")
			}

			_, err = p.Import(ctx, f.store, f.clock.Now().Add(-time.Hour), true, nil)
			require.ErrorIs(t, err, ErrImportCredentials)
			assert.Contains(t, err.Error(), tt.want[0])
			assert.Contains(t, err.Error(), "okta.logs.read")
			assert.NotContains(t, err.Error(), "ssws-token")
		})
	}
}
