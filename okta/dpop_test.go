package okta

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseProof verifies a proof with the key in its own jwk header, as a server does.
func parseProof(t *testing.T, proof string) (*jwt.Token, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(proof, claims, func(tok *jwt.Token) (any, error) {
		jwk := tok.Header["jwk"].(map[string]any)
		x, _ := base64.RawURLEncoding.DecodeString(jwk["x"].(string))
		y, _ := base64.RawURLEncoding.DecodeString(jwk["y"].(string))
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	}, jwt.WithValidMethods([]string{"ES256"}))
	require.NoError(t, err)
	return tok, claims
}

func TestProofContents(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p, err := newProver(key)
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	target, _ := url.Parse("https://acme.okta.com/api/v1/logs?since=2026-11-27T11%3A00%3A00Z&filter=x#frag")

	t.Run("api call", func(t *testing.T) {
		proof, err := p.proof(http.MethodGet, target, "nonce-1", "access-token", now)
		require.NoError(t, err)
		tok, claims := parseProof(t, proof)
		assert.Equal(t, "dpop+jwt", tok.Header["typ"])
		assert.Equal(t, "ES256", tok.Header["alg"])
		assert.Equal(t, map[string]any{"kty": "EC", "crv": "P-256", "x": p.jwk["x"], "y": p.jwk["y"]}, tok.Header["jwk"], "the public key only")
		assert.Equal(t, "GET", claims["htm"])
		assert.Equal(t, "https://acme.okta.com/api/v1/logs", claims["htu"], "no query, no fragment")
		assert.Equal(t, float64(now.Unix()), claims["iat"])
		assert.Equal(t, "nonce-1", claims["nonce"])
		sum := sha256.Sum256([]byte("access-token"))
		assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), claims["ath"])
		assert.NotEmpty(t, claims["jti"])
	})
	t.Run("token request", func(t *testing.T) {
		tokenURL, _ := url.Parse("https://acme.okta.com/oauth2/v1/token")
		proof, err := p.proof(http.MethodPost, tokenURL, "", "", now)
		require.NoError(t, err)
		_, claims := parseProof(t, proof)
		assert.Equal(t, "POST", claims["htm"])
		assert.Equal(t, "https://acme.okta.com/oauth2/v1/token", claims["htu"])
		assert.NotContains(t, claims, "ath", "no token yet")
		assert.NotContains(t, claims, "nonce", "no nonce given")
	})
	t.Run("never the same twice", func(t *testing.T) {
		seen := map[string]bool{}
		for range 500 {
			proof, err := p.proof(http.MethodGet, target, "", "access-token", now)
			require.NoError(t, err)
			_, claims := parseProof(t, proof)
			jti := claims["jti"].(string)
			require.False(t, seen[jti], "jti %s used twice", jti)
			seen[jti] = true
		}
	})
	t.Run("P-256 only", func(t *testing.T) {
		k384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		_, err = newProver(k384)
		assert.Error(t, err)
	})
}

func TestDPoPKeyFileIsMadeOnceAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "okta-dpop-key.pem")
	key, err := loadOrCreateDPoPKey(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "readable by hookd's user only")
	made, err := os.ReadFile(path)
	require.NoError(t, err)

	again, err := loadOrCreateDPoPKey(path)
	require.NoError(t, err)
	assert.True(t, key.Equal(again), "the kept key, not a new one")
	kept, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, made, kept, "never rewritten")

	t.Run("a file that is not a P-256 key is refused, named, not quoted and not replaced", func(t *testing.T) {
		dir := t.TempDir()
		junk := filepath.Join(dir, "junk.pem")
		require.NoError(t, os.WriteFile(junk, []byte("not-a-key-but-secret-looking"), 0o600))
		_, err := loadOrCreateDPoPKey(junk)
		require.Error(t, err)
		assert.Contains(t, err.Error(), junk)
		assert.NotContains(t, err.Error(), "secret-looking")
		data, _ := os.ReadFile(junk)
		assert.Equal(t, "not-a-key-but-secret-looking", string(data))

		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		rsaFile := filepath.Join(dir, "rsa.pem")
		der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(rsaFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
		_, err = loadOrCreateDPoPKey(rsaFile)
		assert.ErrorContains(t, err, "must be an EC P-256 private key")
	})
}

func TestChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, header, code, description string
	}{
		{"dpop nonce", `DPoP algs="ES256 RS256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
			"use_dpop_nonce", "Resource server requires nonce in DPoP proof"},
		{"two challenges, DPoP first choice", `Bearer realm="okta", error="invalid_token", DPoP error="invalid_dpop_proof", error_description="a, b"`,
			"invalid_dpop_proof", "a, b"},
		{"bearer only", `Bearer authorization_uri="x", error="invalid_token", error_description="The access token is invalid."`,
			"invalid_token", "The access token is invalid."},
		{"no error", `DPoP algs="ES256"`, "", ""},
		{"none", ``, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("WWW-Authenticate", tc.header)
			}
			code, desc := challenge(h)
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.description, desc)
		})
	}
}

func TestTokenErrorIsARefusalOfTheClientOnly(t *testing.T) {
	for _, tc := range []struct {
		status  int
		code    string
		refused bool
		text    string
	}{
		{401, "invalid_client", true, "token request refused by Okta: HTTP 401 invalid_client: d"},
		{400, "invalid_scope", true, "token request refused by Okta: HTTP 400 invalid_scope: d"},
		{400, "invalid_dpop_proof", false, "token request refused by Okta: HTTP 400 invalid_dpop_proof: d"},
		{400, "use_dpop_nonce", false, "token request refused by Okta: HTTP 400 use_dpop_nonce: d"},
		{503, "temporarily_unavailable", false, "token request: HTTP 503 temporarily_unavailable: d"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			err := error(&TokenError{Status: tc.status, Code: tc.code, Description: "d"})
			assert.Equal(t, tc.refused, errors.Is(err, ErrTokenRefused))
			assert.Equal(t, tc.text, err.Error())
		})
	}
}
