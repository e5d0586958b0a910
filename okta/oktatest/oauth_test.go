package oktatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// client makes token requests and API calls by hand, so that the fake is seen to refuse
// what Okta refuses.
type client struct {
	t         *testing.T
	srv       *httptest.Server
	appKey    *ecdsa.PrivateKey
	dpopKey   *ecdsa.PrivateKey
	assertJTI int
}

func newFakeOrg(t *testing.T) (*OAuth, *client) {
	appKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	o := NewOAuth("0oaApp", &appKey.PublicKey, "okta.logs.read")
	srv := httptest.NewServer(o.Protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("[]")) })))
	t.Cleanup(srv.Close)
	return o, &client{t: t, srv: srv, appKey: appKey, dpopKey: dpopKey}
}

func (c *client) jwk(private bool) map[string]any {
	pub, err := c.dpopKey.PublicKey.Bytes()
	require.NoError(c.t, err)
	b := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": b(pub[1:33]), "y": b(pub[33:])}
	if private {
		d, err := c.dpopKey.Bytes()
		require.NoError(c.t, err)
		jwk["d"] = b(d)
	}
	return jwk
}

func (c *client) proof(claims jwt.MapClaims, header map[string]any) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = c.jwk(false)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(c.dpopKey)
	require.NoError(c.t, err)
	return s
}

func (c *client) claims(method, path string) jwt.MapClaims {
	return jwt.MapClaims{"htm": method, "htu": c.srv.URL + path, "iat": time.Now().Unix(), "jti": rand.Text()}
}

// token posts a token request with proof ("" for none) and returns status and answer.
func (c *client) token(proof string) (int, http.Header, map[string]any) {
	c.assertJTI++
	assertion := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{Issuer: "0oaApp", Subject: "0oaApp",
		Audience: jwt.ClaimStrings{c.srv.URL + TokenPath}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
		ID: fmt.Sprint("assertion-", c.assertJTI)})
	signed, err := assertion.SignedString(c.appKey)
	require.NoError(c.t, err)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.logs.read"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {signed}}
	req, _ := http.NewRequest(http.MethodPost, c.srv.URL+TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

func (c *client) call(auth, proof string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, c.srv.URL+"/api/v1/logs?since=x", nil)
	req.Header.Set("Authorization", auth)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestOAuthTokenEndpointAsOkta(t *testing.T) {
	o, c := newFakeOrg(t)

	status, _, body := c.token("")
	assert.Equal(t, 400, status)
	assert.Equal(t, "invalid_dpop_proof", body["error"], "DPoP required: no proof, no token")

	status, h, body := c.token(c.proof(c.claims("POST", TokenPath), nil))
	assert.Equal(t, 400, status)
	assert.Equal(t, "use_dpop_nonce", body["error"])
	nonce := h.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)

	for name, p := range map[string]string{
		"wrong typ":          c.proof(withNonce(c.claims("POST", TokenPath), nonce), map[string]any{"typ": "JWT"}),
		"private key in jwk": c.proof(withNonce(c.claims("POST", TokenPath), nonce), map[string]any{"jwk": c.jwk(true)}),
		"wrong htm":          c.proof(withNonce(c.claims("GET", TokenPath), nonce), nil),
		"htu with a query":   c.proof(withNonce(c.claims("POST", TokenPath+"?x=1"), nonce), nil),
		"stale iat":          c.proof(withNonce(jwt.MapClaims{"htm": "POST", "htu": c.srv.URL + TokenPath, "iat": time.Now().Add(-10 * time.Minute).Unix(), "jti": rand.Text()}, nonce), nil),
		"not signed by jwk":  tamper(c.proof(withNonce(c.claims("POST", TokenPath), nonce), nil)),
	} {
		t.Run(name, func(t *testing.T) {
			status, _, body := c.token(p)
			assert.Equal(t, 400, status)
			assert.Equal(t, "invalid_dpop_proof", body["error"], body["error_description"])
		})
	}
	status, _, body = c.token(c.proof(withNonce(c.claims("POST", TokenPath), "stale"), nil))
	assert.Equal(t, 400, status)
	assert.Equal(t, "use_dpop_nonce", body["error"])

	good := c.proof(withNonce(c.claims("POST", TokenPath), nonce), nil)
	status, _, body = c.token(good)
	require.Equal(t, 200, status, body)
	assert.Equal(t, "DPoP", body["token_type"])
	token := body["access_token"].(string)
	status, _, body = c.token(good)
	assert.Equal(t, 400, status)
	assert.Equal(t, "invalid_dpop_proof", body["error"], "a jti is never taken twice")

	// The API: the bound token only with a proof of the same key, for this call, with ath.
	status, _ = c.call("DPoP "+token, c.proof(withATH(c.claims("GET", "/api/v1/logs"), token), nil))
	assert.Equal(t, 200, status)
	status, challenge := c.call("Bearer "+token, "")
	assert.Equal(t, 401, status, "a bound token as Bearer")
	assert.Contains(t, challenge, `error="invalid_token"`)
	status, challenge = c.call("DPoP "+token, c.proof(c.claims("GET", "/api/v1/logs"), nil))
	assert.Equal(t, 401, status, "no ath")
	assert.Contains(t, challenge, `error="invalid_dpop_proof"`)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	mine := c.dpopKey
	c.dpopKey = other
	status, challenge = c.call("DPoP "+token, c.proof(withATH(c.claims("GET", "/api/v1/logs"), token), nil))
	c.dpopKey = mine
	assert.Equal(t, 401, status, "another key's proof")
	assert.Contains(t, challenge, "not the one the token is bound to")

	// A resource nonce, asked for once.
	o.SetResourceNonce(true)
	req, _ := http.NewRequest(http.MethodGet, c.srv.URL+"/api/v1/logs", nil)
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", c.proof(withATH(c.claims("GET", "/api/v1/logs"), token), nil))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`)
	rn := resp.Header.Get("DPoP-Nonce")
	require.NotEmpty(t, rn)
	status, _ = c.call("DPoP "+token, c.proof(withNonce(withATH(c.claims("GET", "/api/v1/logs"), token), rn), nil))
	assert.Equal(t, 200, status)
}

func TestOAuthBearerForAnAppWithoutDPoP(t *testing.T) {
	o, c := newFakeOrg(t)
	o.DPoP = false
	status, _, body := c.token(c.proof(c.claims("POST", TokenPath), nil))
	require.Equal(t, 200, status, body)
	assert.Equal(t, "Bearer", body["token_type"], "the proof is ignored")
	token := body["access_token"].(string)
	status, _ = c.call("Bearer "+token, "")
	assert.Equal(t, 200, status)
	status, _ = c.call("DPoP "+token, c.proof(withATH(c.claims("GET", "/api/v1/logs"), token), nil))
	assert.Equal(t, 401, status, "not a bound token")

	status, _, body = c.token("")
	require.Equal(t, 200, status, body)
	c.assertJTI-- // the same assertion again
	status, _, body = c.token("")
	assert.Equal(t, 401, status)
	assert.Equal(t, "invalid_client", body["error"], "an assertion is taken once")
}

func withNonce(c jwt.MapClaims, nonce string) jwt.MapClaims { c["nonce"] = nonce; return c }
func withATH(c jwt.MapClaims, token string) jwt.MapClaims   { c["ath"] = ath(token); return c }

// tamper changes a claim of a signed JWT, keeping its signature.
func tamper(jwtString string) string {
	parts := strings.Split(jwtString, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	c["jti"] = "forged"
	b, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}
