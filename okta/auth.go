// Package okta is hookd's client for Okta's management APIs: credentials (an API token, or a
// service app's client-credentials grant with private_key_jwt), and the Event Hooks API used
// by hookd okta register and status. systemlog keeps the polling policy and uses the same
// credentials.
package okta

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/hookd/hookd/internal/outbound"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Credentials authorizes requests to Okta's API.
type Credentials interface {
	// Authorize sets the Authorization header of req.
	Authorize(ctx context.Context, req *http.Request) error
	// Fingerprint identifies the credential without revealing it, so that a credential Okta
	// refused is not tried again until it changes.
	Fingerprint() string
}

// APIToken is an Okta API token, sent as "SSWS <token>".
type APIToken string

// Authorize sets the SSWS header.
func (t APIToken) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "SSWS "+string(t))
	return nil
}

// Fingerprint is a hash prefix of the token.
func (t APIToken) Fingerprint() string { return fingerprint("ssws", string(t)) }

func fingerprint(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// ServiceApp gets OAuth 2.0 access tokens for an Okta service app by the client-credentials
// grant with a private_key_jwt client assertion (scope okta.logs.read), and keeps each token
// until shortly before it expires.
//
// The assertion is signed with golang-jwt (RS256 for RSA keys, ES256 for P-256 keys); the
// token request itself is one form POST, simpler than pulling in an OAuth client that does
// not speak private_key_jwt.
type ServiceApp struct {
	TokenURL string // {org}/oauth2/v1/token
	ClientID string
	Key      crypto.Signer
	KeyID    string // kid, when the app has several keys
	Client   *http.Client
	Now      func() time.Time
	// Scopes are the OAuth scopes asked for (default okta.logs.read; registration needs
	// okta.eventHooks.manage).
	Scopes []string

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Authorize sets "Bearer <access token>", fetching a token when none is cached.
func (a *ServiceApp) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := a.accessToken(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// scope is the scopes asked for: Scopes, or okta.logs.read for the poller.
func (a *ServiceApp) scope() string {
	if len(a.Scopes) == 0 {
		return "okta.logs.read"
	}
	return strings.Join(a.Scopes, " ")
}

// Fingerprint identifies the client id and public key.
func (a *ServiceApp) Fingerprint() string {
	pub, _ := x509.MarshalPKIXPublicKey(a.Key.Public())
	return fingerprint("oauth", a.ClientID, string(pub))
}

// ErrTokenRefused is returned when Okta's token endpoint refuses the client.
var ErrTokenRefused = errors.New("token request refused by Okta")

func (a *ServiceApp) accessToken(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.token != "" && now.Before(a.expires) {
		return a.token, nil
	}
	assertion, err := a.assertion(now)
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {a.scope()},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := a.Client
	if client == nil {
		client = outbound.Client(30 * time.Second) // never http.DefaultClient: it waits forever
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %s", outbound.Describe(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return "", fmt.Errorf("%w: HTTP %d %s", ErrTokenRefused, resp.StatusCode, e.Error)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token request: HTTP %d", resp.StatusCode)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", errors.New("token request: no access_token in Okta's answer")
	}
	if !strings.EqualFold(t.TokenType, "Bearer") {
		return "", fmt.Errorf("token request: token type %q is not supported (DPoP-bound tokens need DPoP, which hookd does not send yet)", t.TokenType)
	}
	a.token = t.AccessToken
	a.expires = now.Add(time.Duration(t.ExpiresIn)*time.Second - time.Minute)
	return a.token, nil
}

func (a *ServiceApp) assertion(now time.Time) (string, error) {
	var method jwt.SigningMethod
	switch k := a.Key.Public().(type) {
	case *rsa.PublicKey:
		method = jwt.SigningMethodRS256
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize != 256 {
			return "", errors.New("private key: only P-256 EC keys are supported")
		}
		method = jwt.SigningMethodES256
	default:
		return "", errors.New("private key: must be RSA or EC P-256")
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	tok := jwt.NewWithClaims(method, jwt.RegisteredClaims{
		Issuer:    a.ClientID,
		Subject:   a.ClientID,
		Audience:  jwt.ClaimStrings{a.TokenURL},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
		ID:        hex.EncodeToString(jti),
	})
	if a.KeyID != "" {
		tok.Header["kid"] = a.KeyID
	}
	return tok.SignedString(a.Key)
}

func (a *ServiceApp) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// ParsePrivateKey reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC 1 EC). Errors never
// quote the key.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("private key: no PEM block found")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("private key: unsupported key type")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("private key: not a PKCS#8, PKCS#1 or EC private key")
}
