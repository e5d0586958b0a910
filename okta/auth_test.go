package okta_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dpopOrg is a fake org: the OAuth fake in front of a small Event Hooks API that keeps the
// hooks it is sent, so that a POST's body is seen to arrive whole after a nonce challenge.
type dpopOrg struct {
	oauth *oktatest.OAuth
	srv   *httptest.Server
	key   crypto.Signer // the app's client-assertion key
	mu    sync.Mutex
	seen  []*http.Request
	hooks []okta.EventHook
}

func newDPoPOrg(t *testing.T, scopes ...string) *dpopOrg {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	if len(scopes) == 0 {
		scopes = []string{"okta.eventHooks.manage", "okta.eventHooks.read"}
	}
	o := &dpopOrg{key: key, oauth: oktatest.NewOAuth("0oaHookd", &key.PublicKey, scopes...)}
	o.srv = httptest.NewServer(o.oauth.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.seen = append(o.seen, r.Clone(context.Background()))
		if r.Method == http.MethodPost {
			var h okta.EventHook
			if err := json.NewDecoder(r.Body).Decode(&h); err != nil {
				http.Error(w, `{"errorCode":"E0000003"}`, http.StatusBadRequest)
				return
			}
			h.ID = fmt.Sprintf("who%d", len(o.hooks)+1)
			o.hooks = append(o.hooks, h)
			_ = json.NewEncoder(w).Encode(h)
			return
		}
		_ = json.NewEncoder(w).Encode(o.hooks)
	})))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *dpopOrg) app(t *testing.T) *okta.ServiceApp {
	return &okta.ServiceApp{TokenURL: o.srv.URL + oktatest.TokenPath, ClientID: "0oaHookd", Key: o.key,
		Scopes: []string{"okta.eventHooks.manage", "okta.eventHooks.read"}, DPoPKeyFile: filepath.Join(t.TempDir(), "okta-dpop-key.pem")}
}

func (o *dpopOrg) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.seen...)
}

// claims decodes a proof's claims (the fake has verified its signature).
func claims(t *testing.T, proof string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(proof, c)
	require.NoError(t, err)
	return c
}

// TestServiceAppDPoP: against an org that requires DPoP and asks for nonces at the token
// endpoint and the API, hookd's calls carry DPoP-bound tokens with a fresh proof each, the
// POST that met the API's nonce challenge arrives once and whole, and no proof is reused.
func TestServiceAppDPoP(t *testing.T) {
	org := newDPoPOrg(t)
	org.oauth.ResourceNonce = true
	app := org.app(t)
	fingerprint := app.Fingerprint()
	c := &okta.Client{OrgURL: org.srv.URL, Credentials: app}
	ctx := context.Background()

	created, err := c.CreateEventHook(ctx, okta.EventHook{Name: "hookd", Events: okta.HookEvents{Type: "EVENT_TYPE", Items: []string{"group.privilege.grant"}}})
	require.NoError(t, err)
	assert.Equal(t, "who1", created.ID)
	for range 3 {
		hooks, err := c.ListEventHooks(ctx)
		require.NoError(t, err)
		require.Len(t, hooks, 1)
		assert.Equal(t, []string{"group.privilege.grant"}, hooks[0].Events.Items, "the POST's body arrived whole after the challenge")
	}

	assert.Equal(t, []string{"token: use_dpop_nonce", "api: use_dpop_nonce"}, org.oauth.Answers(),
		"each nonce asked for once, then kept")
	assert.Equal(t, 2, org.oauth.TokenRequests(), "one token, got after the nonce challenge")
	reqs := org.requests()
	require.Len(t, reqs, 4, "one create, three lists")
	tokens := org.oauth.Tokens()
	require.Len(t, tokens, 1)
	for _, r := range reqs {
		assert.Equal(t, "DPoP "+tokens[0], r.Header.Get("Authorization"))
	}

	// Every proof, at the token endpoint and the API, has its own jti, and all of them name
	// the key kept in the data dir.
	keyPEM, err := os.ReadFile(app.DPoPKeyFile)
	require.NoError(t, err)
	kept, err := okta.ParsePrivateKey(keyPEM)
	require.NoError(t, err)
	pub, err := kept.Public().(*ecdsa.PublicKey).Bytes()
	require.NoError(t, err)
	jtis := map[string]bool{}
	proofs := org.oauth.Proofs()
	require.Len(t, proofs, 2+1+1+3, "two token requests, the challenged create and its retry, three lists")
	for _, p := range proofs {
		cl := claims(t, p)
		jti := cl["jti"].(string)
		assert.False(t, jtis[jti], "a proof is never reused")
		jtis[jti] = true
		tok, _, err := jwt.NewParser().ParseUnverified(p, jwt.MapClaims{})
		require.NoError(t, err)
		jwk := tok.Header["jwk"].(map[string]any)
		assert.Equal(t, base64.RawURLEncoding.EncodeToString(pub[1:33]), jwk["x"], "the kept DPoP key")
		assert.NotContains(t, jwk, "d")
	}
	assert.Equal(t, fingerprint, app.Fingerprint(), "the fingerprint does not change with the DPoP key or the token")
}

// TestBoundTokenSentAsBearerIsRefused: the fake's API refuses a DPoP-bound token without
// its proof, as Okta does, so hookd's DPoP scheme is not merely tolerated.
func TestBoundTokenSentAsBearerIsRefused(t *testing.T) {
	org := newDPoPOrg(t)
	c := &okta.Client{OrgURL: org.srv.URL, Credentials: org.app(t)}
	_, err := c.ListEventHooks(context.Background())
	require.NoError(t, err)
	tokens := org.oauth.Tokens()
	require.Len(t, tokens, 1)

	for name, set := range map[string]func(*http.Request){
		"bearer":         func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tokens[0]) },
		"dpop, no proof": func(r *http.Request) { r.Header.Set("Authorization", "DPoP "+tokens[0]) },
		"unknown token":  func(r *http.Request) { r.Header.Set("Authorization", "DPoP not-a-token") },
		"no credentials": func(*http.Request) {},
		"a proof used before": func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+tokens[0])
			r.Header.Set("DPoP", org.oauth.Proofs()[0])
		},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, org.srv.URL+"/api/v1/eventHooks", nil)
			set(req)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "error=")
		})
	}
	// Through the client, a revoked token is Okta's 401: the token is dropped and the same
	// call sent once more with a new one, answering the token endpoint's nonce, changed
	// since, again.
	org.oauth.Revoke()
	org.oauth.RotateNonce()
	_, err = c.ListEventHooks(context.Background())
	require.NoError(t, err, "the token Okta called invalid was dropped, and a new one got")
	answers := org.oauth.Answers()
	assert.Equal(t, []string{"api: invalid_token", "token: use_dpop_nonce"}, answers[len(answers)-2:])
	assert.Equal(t, 4, org.oauth.TokenRequests())
}

// TestServiceAppBearer: an app that does not require DPoP gets a Bearer token for the same
// proof-carrying token request, and API calls carry no proof.
func TestServiceAppBearer(t *testing.T) {
	org := newDPoPOrg(t)
	org.oauth.DPoP = false
	c := &okta.Client{OrgURL: org.srv.URL, Credentials: org.app(t)}
	_, err := c.ListEventHooks(context.Background())
	require.NoError(t, err)
	tokens := org.oauth.Tokens()
	require.Len(t, tokens, 1)
	r := org.requests()[0]
	assert.Equal(t, "Bearer "+tokens[0], r.Header.Get("Authorization"))
	assert.Empty(t, r.Header.Get("DPoP"))
	assert.Equal(t, 1, org.oauth.TokenRequests())
}

// TestTokenErrorsSayWhatOktaSaid: a refusal at the token endpoint is reported with Okta's
// error and description; only a refusal of the client is ErrTokenRefused; no error holds a
// key, an assertion, a proof or a token.
func TestTokenErrorsSayWhatOktaSaid(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(org *dpopOrg, app *okta.ServiceApp)
		want    string
		refused bool
	}{
		{"unknown client", func(_ *dpopOrg, app *okta.ServiceApp) { app.ClientID = "0oaSomeoneElse" },
			"token request refused by Okta: HTTP 401 invalid_client: The client_assertion is invalid.", true},
		{"scope not granted", func(_ *dpopOrg, app *okta.ServiceApp) { app.Scopes = []string{"okta.logs.read"} },
			"token request refused by Okta: HTTP 400 invalid_scope: The following scopes are not allowed: okta.logs.read", true},
		{"clock off", func(_ *dpopOrg, app *okta.ServiceApp) {
			app.Now = func() time.Time { return time.Now().Add(3 * time.Minute) }
		}, "token request refused by Okta: HTTP 400 invalid_dpop_proof: The DPoP proof's iat is not within the allowed time.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := newDPoPOrg(t)
			app := org.app(t)
			tc.setup(org, app)
			c := &okta.Client{OrgURL: org.srv.URL, Credentials: app}
			_, err := c.ListEventHooks(context.Background())
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.Equal(t, tc.refused, errors.Is(err, okta.ErrTokenRefused))
			assert.Empty(t, org.requests(), "no API call without a token")
			for _, p := range org.oauth.Proofs() {
				assert.NotContains(t, err.Error(), p)
			}
		})
	}

	t.Run("a nonce asked for twice is answered once", func(t *testing.T) {
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			w.Header().Set("DPoP-Nonce", fmt.Sprint("n", calls))
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof."}`)
		}))
		defer srv.Close()
		app := &okta.ServiceApp{TokenURL: srv.URL + "/oauth2/v1/token", ClientID: "0oa", Key: newKey(t)}
		err := app.Authorize(context.Background(), httptest.NewRequest(http.MethodGet, "https://acme.okta.com/api/v1/logs", nil))
		assert.EqualError(t, err, "token request refused by Okta: HTTP 400 use_dpop_nonce: Authorization server requires nonce in DPoP proof.")
		assert.False(t, errors.Is(err, okta.ErrTokenRefused), "a problem of the moment")
		assert.Equal(t, 2, calls)
	})

	t.Run("what Okta echoes of the request stays out", func(t *testing.T) {
		var assertion, proof string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			assertion, proof = r.PostForm.Get("client_assertion"), r.Header.Get("DPoP")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "bad: " + assertion + " " + proof})
		}))
		defer srv.Close()
		app := &okta.ServiceApp{TokenURL: srv.URL + "/oauth2/v1/token", ClientID: "0oa", Key: newKey(t)}
		err := app.Authorize(context.Background(), httptest.NewRequest(http.MethodGet, "https://acme.okta.com/api/v1/logs", nil))
		require.Error(t, err)
		require.NotEmpty(t, assertion)
		assert.NotContains(t, err.Error(), assertion)
		assert.NotContains(t, err.Error(), proof)
		assert.Contains(t, err.Error(), "invalid_request: bad: [redacted]")
	})

	t.Run("a token type hookd does not know", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"access_token":"tok-secret","token_type":"MAC","expires_in":3600}`)
		}))
		defer srv.Close()
		app := &okta.ServiceApp{TokenURL: srv.URL + "/oauth2/v1/token", ClientID: "0oa", Key: newKey(t)}
		err := app.Authorize(context.Background(), httptest.NewRequest(http.MethodGet, "https://acme.okta.com/api/v1/logs", nil))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `token type "MAC"`)
		assert.NotContains(t, err.Error(), "tok-secret")
	})
}

// TestSendWithoutDPoP: an API token goes through Send unchanged, and a 401 is the answer.
func TestSendWithoutDPoP(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization")+"|"+r.Header.Get("DPoP"))
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
		w.Header().Set("DPoP-Nonce", "n")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := okta.Send(context.Background(), nil, okta.APIToken("ssws"), req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, []string{"SSWS ssws|"}, got, "sent once: an API token has no proof to mend")
}

func newKey(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	s, err := okta.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	require.NoError(t, err)
	return s
}
