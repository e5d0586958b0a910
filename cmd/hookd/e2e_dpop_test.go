package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serviceApp makes an Okta service app's key pair: the private key in a PEM file for
// HOOKD_OKTA_PRIVATE_KEY_FILE, and the fake authorization server that knows its public half,
// requiring DPoP with nonces as Okta does for new apps.
func serviceApp(t *testing.T, scopes ...string) (*oktatest.OAuth, string, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "app-key.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	require.NoError(t, os.WriteFile(path, pemBytes, 0o600))
	return oktatest.NewOAuth("0oaHookdApp", &key.PublicKey, scopes...), path, pemBytes
}

// assertNoSecrets checks that what hookd wrote holds no access token, no DPoP proof and no
// part of either private key.
func assertNoSecrets(t *testing.T, out string, oauth *oktatest.OAuth, pems ...[]byte) {
	t.Helper()
	require.NotEmpty(t, oauth.Tokens(), "tokens were issued")
	for _, tok := range oauth.Tokens() {
		assert.NotContains(t, out, tok, "an access token")
	}
	for _, p := range oauth.Proofs() {
		assert.NotContains(t, out, p, "a DPoP proof")
		sig := p[strings.LastIndex(p, ".")+1:]
		assert.NotContains(t, out, sig, "a DPoP proof's signature")
	}
	for _, pemBytes := range pems {
		for _, line := range strings.Split(string(pemBytes), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				assert.NotContains(t, out, line, "a line of a private key")
			}
		}
	}
}

// TestServePollsWithADPoPBoundServiceApp: hookd serve, configured with a service app that
// requires DPoP, makes its DPoP key in the data dir (0600), answers the token endpoint's and
// the API's nonce challenges, polls the System Log with DPoP-bound tokens and alerts the
// events; no token, proof or key reaches the logs or the alerts.
func TestServePollsWithADPoPBoundServiceApp(t *testing.T) {
	oauth, keyFile, appPEM := serviceApp(t, "okta.logs.read")
	oauth.ResourceNonce = true
	org := systemlogtest.NewOkta(t, "an-ssws-token-not-configured")
	org.OAuth = oauth
	org.Add("dpop-1", hook.WorkflowsUserRoleAdd, time.Now().Add(-10*time.Minute))
	org.Add("dpop-2", hook.WorkflowsGroupRoleRemove, time.Now().Add(-5*time.Minute))
	dataDir := t.TempDir()
	env := map[string]string{
		"HOOKD_DATA_DIR": dataDir, "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": org.URL, "HOOKD_OKTA_CLIENT_ID": "0oaHookdApp", "HOOKD_OKTA_PRIVATE_KEY_FILE": keyFile,
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s", "HOOKD_GROUP_WINDOW": "0s",
	}
	srv := start(t, env)
	require.Eventually(t, func() bool { return strings.Count(srv.stdout.String(), "ALERT ") == 2 },
		20*time.Second, 20*time.Millisecond, srv.stderr.String())
	assert.Contains(t, srv.stdout.String(), `event="dpop-1" source=systemlog`)
	assert.Contains(t, srv.stdout.String(), `event="dpop-2" source=systemlog`)
	settle(t, srv.adminAddr, 2) // another cycle or two, with the kept token and nonce

	dpopFile := filepath.Join(dataDir, "okta-dpop-key.pem")
	info, err := os.Stat(dpopFile)
	require.NoError(t, err, "the DPoP key is kept in the data dir")
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	dpopPEM, err := os.ReadFile(dpopFile)
	require.NoError(t, err)
	assert.NotEqual(t, appPEM, dpopPEM, "the DPoP key is not the client-assertion key")

	assert.Equal(t, []string{"token: use_dpop_nonce", "api: use_dpop_nonce"}, oauth.Answers(), "no proof refused, no nonce asked twice")
	assert.Len(t, oauth.Tokens(), 1)
	assert.Contains(t, httpGet(t, "http://"+srv.adminAddr+"/readyz"), `"ready"`)
	require.Equal(t, 0, srv.stop())
	assertNoSecrets(t, srv.stdout.String()+srv.stderr.String(), oauth, appPEM, dpopPEM)

	// The next start proves with the same key.
	srv = start(t, env)
	org.Add("dpop-3", hook.WorkflowsUserRoleRemove, time.Now().Add(-time.Minute))
	require.Eventually(t, func() bool { return strings.Contains(srv.stdout.String(), `event="dpop-3"`) },
		20*time.Second, 20*time.Millisecond, srv.stderr.String())
	kept, err := os.ReadFile(dpopFile)
	require.NoError(t, err)
	assert.Equal(t, dpopPEM, kept, "never rewritten")
	require.Equal(t, 0, srv.stop())
	assertNoSecrets(t, srv.stdout.String()+srv.stderr.String(), oauth, appPEM, dpopPEM)
}

// TestHoldersImportWithADPoPBoundServiceApp: the 90-day import reads the System Log through
// the same DPoP-bound credentials.
func TestHoldersImportWithADPoPBoundServiceApp(t *testing.T) {
	oauth, keyFile, appPEM := serviceApp(t, "okta.logs.read")
	org := systemlogtest.NewOkta(t, "an-ssws-token-not-configured")
	org.OAuth = oauth
	org.Add("old-1", hook.WorkflowsUserRoleAdd, time.Now().Add(-30*24*time.Hour))
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": org.URL, "HOOKD_OKTA_CLIENT_ID": "0oaHookdApp", "HOOKD_OKTA_PRIVATE_KEY_FILE": keyFile}
	code, out, errOut := run(env, "holders", "import")
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, "imported 1 events (1 role changes)")
	assert.Equal(t, []string{"token: use_dpop_nonce"}, oauth.Answers())
	assertNoSecrets(t, out+errOut, oauth, appPEM)
}

// TestOktaRegisterWithADPoPBoundServiceApp: hookd okta register and status work with a
// DPoP-bound service app (the fake Event Hooks API behind the fake authorization server),
// and a scope the app was not granted is reported as Okta named it.
func TestOktaRegisterWithADPoPBoundServiceApp(t *testing.T) {
	const secret = "register-secret-not-to-print"
	oauth, keyFile, appPEM := serviceApp(t, "okta.eventHooks.manage", "okta.eventHooks.read")
	oauth.ResourceNonce = true
	hooks := oktatest.NewEventHooks(t, "manage-token")
	// The Event Hooks fake speaks SSWS: what the authorization server lets through is handed
	// on as the fake's token.
	org := httptest.NewServer(oauth.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "SSWS manage-token")
		r.Header.Del("DPoP")
		hooks.Config.Handler.ServeHTTP(w, r)
	})))
	t.Cleanup(org.Close)
	srv := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret})
	hookURL := "http://" + srv.addr + "/okta/events"
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret,
		"HOOKD_OKTA_ORG_URL": org.URL, "HOOKD_OKTA_CLIENT_ID": "0oaHookdApp", "HOOKD_OKTA_PRIVATE_KEY_FILE": keyFile}

	code, out, errOut := run(env, "okta", "register", "--url", hookURL)
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, `created event hook "hookd"`)
	assert.Contains(t, out, "verification: VERIFIED, status: ACTIVE")
	code, statusOut, statusErr := run(env, "okta", "status")
	require.Equal(t, 0, code, statusOut+statusErr)
	assert.Contains(t, statusOut, "verification VERIFIED")
	assert.NotContains(t, oauth.Answers(), "api: invalid_dpop_proof")
	assert.NotContains(t, oauth.Answers(), "token: invalid_dpop_proof")
	dpopPEM, err := os.ReadFile(filepath.Join(env["HOOKD_DATA_DIR"], "okta-dpop-key.pem"))
	require.NoError(t, err)
	assertNoSecrets(t, out+errOut+statusOut+statusErr, oauth, appPEM, dpopPEM)
	assert.NotContains(t, out+errOut+statusOut+statusErr, secret)

	oauth.SetScopes("okta.logs.read") // an admin takes the grant back
	code, out, errOut = run(env, "okta", "status")
	assert.Equal(t, 1, code)
	assert.Contains(t, out+errOut, "token request refused by Okta: HTTP 400 invalid_scope: The following scopes are not allowed: okta.eventHooks.manage")
	assert.NotContains(t, out+errOut, "check the credentials")
}

// TestHoldersSnapshotWithADPoPBoundServiceApp: the snapshot reads Okta's role assignments
// with a DPoP-bound service app, as it does with an API token.
func TestHoldersSnapshotWithADPoPBoundServiceApp(t *testing.T) {
	oauth, keyFile, appPEM := serviceApp(t, "okta.roles.read", "okta.groups.read")
	oauth.ResourceNonce = true
	roles := fakeRoles(t, "roles-token", map[string][]okta.RoleAssignment{
		"00uZed0nlyInOkta001": {{ID: "ra4", Label: "Super Administrator", Type: "SUPER_ADMIN", AssignmentType: "USER"}},
	}, nil)
	org := httptest.NewServer(oauth.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "SSWS roles-token")
		r.Header.Del("DPoP")
		roles.Config.Handler.ServeHTTP(w, r)
	})))
	t.Cleanup(org.Close)
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s",
		"HOOKD_OKTA_ORG_URL": org.URL, "HOOKD_OKTA_CLIENT_ID": "0oaHookdApp", "HOOKD_OKTA_PRIVATE_KEY_FILE": keyFile}
	code, out, errOut := run(env, "holders", "snapshot")
	assert.Equal(t, 1, code, "one difference:\n%s\n%s", out, errOut)
	assert.Contains(t, out, "user 00uZed0nlyInOkta001: Super Administrator")
	assert.NotContains(t, oauth.Answers(), "api: invalid_dpop_proof")
	dpopPEM, err := os.ReadFile(filepath.Join(env["HOOKD_DATA_DIR"], "okta-dpop-key.pem"))
	require.NoError(t, err)
	assertNoSecrets(t, out+errOut, oauth, appPEM, dpopPEM)
}
