package systemlog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dpopPoller is a poller with a service app against the fixture's org, which requires DPoP
// with nonces at the token endpoint and the API. skew moves the app's clock from the org's.
type dpopPoller struct {
	*Poller
	oauth *oktatest.OAuth
	app   *okta.ServiceApp
	mu    sync.Mutex
	skew  time.Duration
}

// dpopOrg gives the fixture's org an authorization server for the app whose key it returns.
func dpopOrg(t *testing.T, f *fixture) (*oktatest.OAuth, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	oauth := oktatest.NewOAuth("0oaPoller", &key.PublicKey, "okta.logs.read")
	oauth.Now, oauth.ResourceNonce = f.clock.Now, true
	f.okta.OAuth = oauth
	return oauth, key
}

func newDPoPPoller(t *testing.T, f *fixture, oauth *oktatest.OAuth, key *ecdsa.PrivateKey, clientID string) *dpopPoller {
	t.Helper()
	d := &dpopPoller{oauth: oauth}
	d.app = &okta.ServiceApp{TokenURL: f.okta.URL + oktatest.TokenPath, ClientID: clientID, Key: key,
		DPoPKeyFile: filepath.Join(t.TempDir(), "okta-dpop-key.pem"), Now: func() time.Time {
			d.mu.Lock()
			defer d.mu.Unlock()
			return f.clock.Now().Add(d.skew)
		}}
	var err error
	d.Poller, err = New(Config{OrgURL: f.okta.URL, Credentials: d.app, Store: f.store, Now: f.clock.Now,
		Report: func(r Report) { f.reports = append(f.reports, r) }})
	require.NoError(t, err)
	return d
}

func (d *dpopPoller) setSkew(s time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skew = s
}

func TestPollerWithDPoPBoundToken(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 2)
	oauth, key := dpopOrg(t, f)
	p := newDPoPPoller(t, f, oauth, key, "0oaPoller")
	ctx := context.Background()

	require.NoError(t, p.Poll(ctx))
	require.Equal(t, ResultOK, f.last().Result, f.last().Err)
	assert.Equal(t, 2, f.last().Accepted)
	f.add("more", hook.WorkflowsUserRoleRemove, 1)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, 1, f.last().Accepted)
	assert.Equal(t, []string{"token: use_dpop_nonce", "api: use_dpop_nonce"}, p.oauth.Answers(),
		"each nonce asked for once and kept after")
	assert.Equal(t, 2, p.oauth.TokenRequests(), "the token is kept between cycles")

	// The app's clock runs three minutes ahead: Okta refuses its proofs. That is hookd's to
	// mend, not the credentials': the poller backs off and says why, and does not stop.
	p.setSkew(3 * time.Minute)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultError, f.last().Result)
	require.Error(t, f.last().Err)
	assert.Contains(t, f.last().Err.Error(), "invalid_dpop_proof")
	assert.Contains(t, f.last().Err.Error(), "iat is not within the allowed time")
	p.setSkew(0)
	f.clock.Add(10 * time.Minute) // past the back-off; the token is still valid
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultOK, f.last().Result, f.last().Err)
}

func TestPollerReportsTheTokenEndpointsReason(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 1)

	// A proof Okta refuses at the token endpoint: backing off, with Okta's words.
	oauth, key := dpopOrg(t, f)
	p := newDPoPPoller(t, f, oauth, key, "0oaPoller")
	p.setSkew(3 * time.Minute)
	require.NoError(t, p.Poll(context.Background()))
	assert.Equal(t, ResultError, f.last().Result)
	assert.Contains(t, f.last().Err.Error(), "token request refused by Okta: HTTP 400 invalid_dpop_proof: The DPoP proof's iat is not within the allowed time.")

	// A client Okta does not know: polling stops, as for a refused API token.
	f.clock.Add(10 * time.Minute) // past the back-off
	p = newDPoPPoller(t, f, oauth, key, "0oaSomeoneElse")
	require.NoError(t, p.Poll(context.Background()))
	assert.Equal(t, ResultUnauthorized, f.last().Result)
	for _, tok := range p.oauth.Tokens() {
		assert.NotContains(t, f.last().Err.Error(), tok)
	}
}

// A token Okta revokes before it expires is Okta's 401 invalid_token: the poller gets a new
// one in the same cycle and goes on, instead of stopping on a credential that still works.
func TestPollerGoesOnAfterItsTokenIsRevoked(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 1)
	oauth, key := dpopOrg(t, f)
	p := newDPoPPoller(t, f, oauth, key, "0oaPoller")
	ctx := context.Background()
	require.NoError(t, p.Poll(ctx))
	require.Equal(t, ResultOK, f.last().Result, f.last().Err)
	oauth.Revoke()
	f.add("more", hook.WorkflowsUserRoleRemove, 1)
	require.NoError(t, p.Poll(ctx))
	require.Equal(t, ResultOK, f.last().Result, f.last().Err)
	assert.Equal(t, 1, f.last().Accepted)
}
