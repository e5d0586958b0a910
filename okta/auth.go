// Package okta is hookd's client for Okta's management APIs: credentials (an API token, or a
// service app's client-credentials grant with private_key_jwt and DPoP), Send, which every
// call to Okta goes through, and the Event Hooks API used by hookd okta register and status.
// systemlog keeps the polling policy and uses the same credentials.
package okta

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/outbound"
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
// Every token request carries a DPoP proof (RFC 9449), as Okta's own SDK does: an app that
// requires DPoP (Okta's default for new service apps) gets a DPoP-bound token, and each API
// call then sends "Authorization: DPoP <token>" with a fresh proof; an app that does not
// require it gets a Bearer token, sent as before without proofs. Sending the proof first
// spares a refused grant in the org's System Log and a round trip on every token. Okta's
// use_dpop_nonce challenge is answered once, at the token endpoint here and at the API in
// Send.
//
// The assertion and the proofs are signed with golang-jwt (RS256 for RSA keys, ES256 for
// P-256 keys); the token request itself is one form POST, simpler than pulling in an OAuth
// client that does not speak private_key_jwt.
type ServiceApp struct {
	TokenURL string // {org}/oauth2/v1/token
	ClientID string
	Key      crypto.Signer // the client assertion's key, whose public half the app holds
	KeyID    string        // kid, when the app has several keys
	Client   *http.Client
	Now      func() time.Time
	// Scopes are the OAuth scopes asked for (default okta.logs.read; registration needs
	// okta.eventHooks.manage).
	Scopes []string
	// DPoPKey signs the DPoP proofs; it is not Key. Without it, the key kept in DPoPKeyFile
	// is used, made there (EC P-256, mode 0600, never overwritten) on the first token
	// request; without either, a key made for the life of this ServiceApp.
	DPoPKey     *ecdsa.PrivateKey
	DPoPKeyFile string

	mu      sync.Mutex // the token, its type, the prover and the token endpoint's nonce
	token   string
	bound   bool // the token is DPoP-bound
	expires time.Time
	prover  *prover
	asNonce string

	nmu    sync.Mutex
	nonces map[string]string // the API's latest DPoP-Nonce, by origin
}

// Authorize sets "Bearer <access token>", or for a DPoP-bound token "DPoP <access token>"
// and a DPoP header with a fresh proof for req, fetching a token when none is cached.
func (a *ServiceApp) Authorize(ctx context.Context, req *http.Request) error {
	tok, p, err := a.accessToken(ctx)
	if err != nil {
		return err
	}
	if p == nil {
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Del("DPoP")
		return nil
	}
	a.nmu.Lock()
	nonce := a.nonces[origin(req.URL)]
	a.nmu.Unlock()
	proof, err := p.proof(req.Method, req.URL, nonce, tok, a.now())
	if err != nil {
		return fmt.Errorf("DPoP proof: %w", err)
	}
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proof)
	return nil
}

// answered keeps the nonce an API answer gives, forgets a token the API calls invalid (the
// next call gets a new one), and asks for the request again on a nonce challenge.
func (a *ServiceApp) answered(req *http.Request, resp *http.Response) bool {
	nonce := resp.Header.Get("DPoP-Nonce")
	if nonce != "" {
		a.nmu.Lock()
		if a.nonces == nil {
			a.nonces = map[string]string{}
		}
		a.nonces[origin(req.URL)] = nonce
		a.nmu.Unlock()
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	code, _ := challenge(resp.Header)
	if code == "invalid_token" {
		// A cached token Okta no longer takes (revoked, or the org's clock ahead of ours):
		// dropped, and the request sent once more with a new one. The poller would otherwise
		// stop for good on a credential that still works.
		a.mu.Lock()
		_, tok, _ := strings.Cut(req.Header.Get("Authorization"), " ")
		stale := tok != "" && tok == a.token
		if stale {
			a.token = ""
		}
		a.mu.Unlock()
		return stale
	}
	return code == "use_dpop_nonce" && nonce != "" && req.Header.Get("DPoP") != ""
}

// scope is the scopes asked for: Scopes, or okta.logs.read for the poller.
func (a *ServiceApp) scope() string {
	if len(a.Scopes) == 0 {
		return "okta.logs.read"
	}
	return strings.Join(a.Scopes, " ")
}

// Fingerprint identifies the client id and public key (not the DPoP key, which only binds
// tokens: a new one is not a new credential).
func (a *ServiceApp) Fingerprint() string {
	pub, _ := x509.MarshalPKIXPublicKey(a.Key.Public())
	return fingerprint("oauth", a.ClientID, string(pub))
}

// ErrTokenRefused is returned when Okta's token endpoint refuses the client: a
// *TokenError such as invalid_client or invalid_scope.
var ErrTokenRefused = errors.New("token request refused by Okta")

// TokenError is an error answer of Okta's token endpoint: its status, and Okta's error and
// error_description (clipped, never holding the assertion or the proof).
type TokenError struct {
	Status      int
	Code        string // invalid_client, invalid_scope, invalid_dpop_proof, use_dpop_nonce, …
	Description string
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("token request: HTTP %d", e.Status)
	if e.refusal() {
		s = fmt.Sprintf("%v: HTTP %d", ErrTokenRefused, e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

func (e *TokenError) refusal() bool {
	return e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// Is makes a refusal of the client ErrTokenRefused. A refusal of the DPoP proof
// (invalid_dpop_proof, use_dpop_nonce) is not: hookd makes the proofs, and a clock that is
// off or a nonce that changed again is a problem of the moment, not one of the credentials
// that only an operator can mend.
func (e *TokenError) Is(target error) bool {
	return target == ErrTokenRefused && e.refusal() && !proofProblem(e.Code)
}

// accessToken is the cached token, or a new one; the prover comes with a DPoP-bound token.
func (a *ServiceApp) accessToken(ctx context.Context) (string, *prover, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.now().Before(a.expires) {
		return a.token, a.boundProver(), nil
	}
	if a.prover == nil {
		p, err := a.newProver()
		if err != nil {
			return "", nil, err
		}
		a.prover = p
	}
	client := a.Client
	if client == nil {
		client = outbound.Client(30 * time.Second) // never http.DefaultClient: it waits forever
	}
	for attempt := 0; ; attempt++ {
		now := a.now()
		status, header, body, err := a.requestToken(ctx, client, now)
		if err != nil {
			return "", nil, err
		}
		if n := header.Get("DPoP-Nonce"); n != "" {
			a.asNonce = n
		}
		if status == http.StatusOK {
			return a.keep(body, now)
		}
		terr := tokenError(status, body)
		if terr.Code == "use_dpop_nonce" && header.Get("DPoP-Nonce") != "" && attempt == 0 {
			continue
		}
		return "", nil, terr
	}
}

func (a *ServiceApp) boundProver() *prover {
	if a.bound {
		return a.prover
	}
	return nil
}

func (a *ServiceApp) newProver() (*prover, error) {
	key := a.DPoPKey
	if key == nil && a.DPoPKeyFile != "" {
		var err error
		if key, err = loadOrCreateDPoPKey(a.DPoPKeyFile); err != nil {
			return nil, err
		}
	}
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, fmt.Errorf("DPoP key: %w", err)
		}
	}
	return newProver(key)
}

// requestToken sends one token request, with a new assertion and a new proof: Okta takes
// neither twice.
func (a *ServiceApp) requestToken(ctx context.Context, client *http.Client, now time.Time) (int, http.Header, []byte, error) {
	assertion, err := a.assertion(now)
	if err != nil {
		return 0, nil, nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {a.scope()},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, errors.New("token request: the token URL is not a URL")
	}
	proof, err := a.prover.proof(http.MethodPost, req.URL, a.asNonce, "", now)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("DPoP proof: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("DPoP", proof)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("token request: %s", outbound.Describe(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	// Okta's answers do not echo what was sent; should one, it stays out of the error.
	redact := outbound.Redactor([]string{assertion, proof})
	return resp.StatusCode, resp.Header, []byte(redact(string(body))), nil
}

// keep takes a token from Okta's answer.
func (a *ServiceApp) keep(body []byte, now time.Time) (string, *prover, error) {
	var t struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", nil, errors.New("token request: no access_token in Okta's answer")
	}
	switch {
	case strings.EqualFold(t.TokenType, "DPoP"):
		a.bound = true
	case strings.EqualFold(t.TokenType, "Bearer"):
		a.bound = false
	default:
		return "", nil, fmt.Errorf("token request: token type %q is not supported (Bearer or DPoP)", clip.Bytes(t.TokenType, 40))
	}
	a.token = t.AccessToken
	a.expires = now.Add(time.Duration(t.ExpiresIn)*time.Second - time.Minute)
	return a.token, a.boundProver(), nil
}

// tokenError reads Okta's error answer; a body that is not OAuth's JSON leaves the status.
func tokenError(status int, body []byte) *TokenError {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	return &TokenError{Status: status, Code: clip.Bytes(e.Error, 64), Description: clip.Bytes(e.Description, 300)}
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
