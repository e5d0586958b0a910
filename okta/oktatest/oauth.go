package oktatest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OAuth is a fake of an Okta org's authorization server for one API service app, as Okta
// behaves: the token endpoint (client credentials with a private_key_jwt assertion, DPoP
// with a nonce demanded first, tokens bound to the proof's key) and, in Check, what Okta's
// API makes of each call's Authorization and DPoP headers. Serve its token endpoint at
// /oauth2/v1/token of the org's host (Protect does, or systemlogtest.Okta's OAuth field).
//
// Set the fields before the first request; the Set methods change them while it runs.
type OAuth struct {
	ClientID string
	// Key is the public key of the app's client assertions (RSA or EC P-256).
	Key crypto.PublicKey
	// Scopes are the scopes granted to the app: asking for another is invalid_scope.
	Scopes []string
	// DPoP requires DPoP-bound tokens, Okta's default for new service apps: a token request
	// without a valid proof is refused with invalid_dpop_proof. Off, a proof is ignored and
	// the token is a Bearer one, as Okta does for an app that does not require DPoP.
	DPoP bool
	// Nonce makes the token endpoint demand its current nonce in the proof, answering
	// 400 use_dpop_nonce with a DPoP-Nonce header first, as Okta does.
	Nonce bool
	// ResourceNonce makes the API answer the first DPoP call with 401 use_dpop_nonce and a
	// DPoP-Nonce, and demand that nonce in every proof after.
	ResourceNonce bool
	// Lifetime is how long a token is valid (default an hour).
	Lifetime time.Duration
	// MaxAge is how old (or how far ahead) a proof's iat may be (default a minute).
	MaxAge time.Duration
	Now    func() time.Time

	mu            sync.Mutex
	tokens        map[string]grant
	jtis          map[string]bool // of proofs, at the token endpoint and the API alike
	assertions    map[string]bool // jti of client assertions
	nonce         string
	resourceNonce string
	proofs        []string
	answers       []string
	tokenRequests int
}

type grant struct {
	jkt     string // thumbprint of the key a DPoP-bound token is bound to; "" for Bearer
	expires time.Time
}

// NewOAuth is a fake authorization server for the app clientID whose assertions key signs,
// granted scopes, requiring DPoP and demanding a nonce at the token endpoint.
func NewOAuth(clientID string, key crypto.PublicKey, scopes ...string) *OAuth {
	return &OAuth{ClientID: clientID, Key: key, Scopes: scopes, DPoP: true, Nonce: true, Now: time.Now}
}

// TokenPath is where Okta's org authorization server takes token requests.
const TokenPath = "/oauth2/v1/token"

// Protect serves the token endpoint at TokenPath and lets through to next only the requests
// Check accepts: an API behind this app's tokens.
func (o *OAuth) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath {
			o.ServeHTTP(w, r)
			return
		}
		if o.Check(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// Tokens are the access tokens issued so far.
func (o *OAuth) Tokens() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for t := range o.tokens {
		out = append(out, t)
	}
	return out
}

// Proofs are the DPoP proofs received so far, at the token endpoint and the API.
func (o *OAuth) Proofs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.proofs)
}

// Answers lists each refusal in order, as "token: <error>" or "api: <error>".
func (o *OAuth) Answers() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.answers)
}

// TokenRequests counts the requests to the token endpoint.
func (o *OAuth) TokenRequests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tokenRequests
}

// RotateNonce makes the token endpoint's nonce a new one, as Okta's do in time.
func (o *OAuth) RotateNonce() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nonce = rand.Text()
}

// SetScopes changes the scopes granted to the app, as an admin would while it runs.
func (o *OAuth) SetScopes(scopes ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Scopes = scopes
}

// SetResourceNonce switches the API's nonce challenge on or off while it runs.
func (o *OAuth) SetResourceNonce(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ResourceNonce = on
}

// Revoke forgets every token issued, as an admin revoking them would.
func (o *OAuth) Revoke() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokens = nil
}

func (o *OAuth) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// ServeHTTP is the token endpoint.
func (o *OAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokenRequests++
	if r.Method != http.MethodPost {
		o.tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint takes POST only.")
		return
	}
	if err := r.ParseForm(); err != nil {
		o.tokenError(w, http.StatusBadRequest, "invalid_request", "The request body is not a form.")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		o.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant type is not supported by this client.")
		return
	}
	tokenURL := requestURL(r)
	if problem := o.checkAssertion(r.PostForm, tokenURL); problem != "" {
		o.tokenError(w, http.StatusUnauthorized, "invalid_client", problem)
		return
	}
	scope := r.PostForm.Get("scope")
	for _, s := range strings.Fields(scope) {
		if !slices.Contains(o.Scopes, s) {
			o.tokenError(w, http.StatusBadRequest, "invalid_scope", "The following scopes are not allowed: "+s)
			return
		}
	}
	jkt := ""
	if !o.DPoP {
		o.proofs = append(o.proofs, r.Header.Values("DPoP")...) // ignored, as Okta does
	} else {
		proofs := r.Header.Values("DPoP")
		if len(proofs) != 1 {
			o.tokenError(w, http.StatusBadRequest, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
			return
		}
		claims, thumb, problem := o.verifyProof(proofs[0], http.MethodPost, tokenURL, "")
		if problem != "" {
			o.tokenError(w, http.StatusBadRequest, "invalid_dpop_proof", problem)
			return
		}
		if o.Nonce {
			if o.nonce == "" {
				o.nonce = rand.Text()
			}
			if claims["nonce"] != o.nonce {
				w.Header().Set("DPoP-Nonce", o.nonce)
				o.tokenError(w, http.StatusBadRequest, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof.")
				return
			}
		}
		jkt = thumb
	}
	lifetime := o.Lifetime
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	token := rand.Text() + rand.Text()
	if o.tokens == nil {
		o.tokens = map[string]grant{}
	}
	o.tokens[token] = grant{jkt: jkt, expires: o.now().Add(lifetime)}
	tokenType := "Bearer"
	if jkt != "" {
		tokenType = "DPoP"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": tokenType, "expires_in": int(lifetime.Seconds()),
		"access_token": token, "scope": scope})
}

func (o *OAuth) tokenError(w http.ResponseWriter, status int, code, description string) {
	o.answers = append(o.answers, "token: "+code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// checkAssertion verifies the private_key_jwt client assertion: signed by Key, iss = sub =
// the client, aud = the token URL, not expired, its jti never seen before.
func (o *OAuth) checkAssertion(form map[string][]string, tokenURL string) string {
	get := func(k string) string {
		if v := form[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	if get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "client_assertion_type is missing or not jwt-bearer."
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(get("client_assertion"), &claims, func(*jwt.Token) (any, error) { return o.Key, nil },
		jwt.WithValidMethods([]string{"RS256", "ES256"}), jwt.WithAudience(tokenURL), jwt.WithIssuer(o.ClientID),
		jwt.WithSubject(o.ClientID), jwt.WithExpirationRequired(), jwt.WithTimeFunc(o.now))
	if err != nil {
		return "The client_assertion is invalid."
	}
	if claims.ID == "" || o.assertions[claims.ID] {
		return "The client_assertion token has already been used."
	}
	if o.assertions == nil {
		o.assertions = map[string]bool{}
	}
	o.assertions[claims.ID] = true
	return ""
}

// Check judges an API call's credentials as Okta's API does for this app's tokens: a
// DPoP-bound token only as "DPoP <token>" with a proof of the token's key for this method
// and URL carrying the token's hash (and the nonce, when ResourceNonce), a Bearer token only
// as "Bearer <token>". A refusal is answered (401, WWW-Authenticate saying why) and false
// returned. The caller may hold its own lock: Check takes only the OAuth's.
func (o *OAuth) Check(w http.ResponseWriter, r *http.Request) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	g, ok := o.tokens[token]
	if !ok || !o.now().Before(g.expires) {
		return o.refuse(w, "Bearer", "invalid_token", "The access token is invalid.", "")
	}
	switch {
	case strings.EqualFold(scheme, "Bearer") && g.jkt == "":
		return true
	case strings.EqualFold(scheme, "Bearer"):
		return o.refuse(w, "DPoP", "invalid_token", "The access token is DPoP-bound: it is accepted only with the DPoP scheme and a proof.", "")
	case !strings.EqualFold(scheme, "DPoP") || g.jkt == "":
		return o.refuse(w, "DPoP", "invalid_token", "The access token is not DPoP-bound.", "")
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return o.refuse(w, "DPoP", "invalid_dpop_proof", "The DPoP proof JWT header is missing.", "")
	}
	claims, jkt, problem := o.verifyProof(proofs[0], r.Method, requestURL(r), token)
	switch {
	case problem != "":
		return o.refuse(w, "DPoP", "invalid_dpop_proof", problem, "")
	case jkt != g.jkt:
		return o.refuse(w, "DPoP", "invalid_dpop_proof", "The DPoP proof's key is not the one the token is bound to.", "")
	case o.ResourceNonce && (o.resourceNonce == "" || claims["nonce"] != o.resourceNonce):
		if o.resourceNonce == "" {
			o.resourceNonce = rand.Text()
		}
		return o.refuse(w, "DPoP", "use_dpop_nonce", "Resource server requires nonce in DPoP proof.", o.resourceNonce)
	}
	return true
}

func (o *OAuth) refuse(w http.ResponseWriter, scheme, code, description, nonce string) bool {
	o.answers = append(o.answers, "api: "+code)
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`%s algs="ES256 RS256", error=%q, error_description=%q`, scheme, code, description))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
	return false
}

// verifyProof checks a DPoP proof: typ dpop+jwt, an ES256 signature by the public key in
// its jwk header (a jwk holding a private key is refused), htm and htu naming this request,
// iat within MaxAge, a jti never used before, and ath the token's hash when token is given.
// It returns the claims and the key's RFC 7638 thumbprint, or what is wrong.
func (o *OAuth) verifyProof(proof, method, target, token string) (jwt.MapClaims, string, string) {
	o.proofs = append(o.proofs, proof)
	var jkt string
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(proof, claims, func(t *jwt.Token) (any, error) {
		if t.Header["typ"] != "dpop+jwt" {
			return nil, fmt.Errorf("typ is not dpop+jwt")
		}
		jwk, _ := t.Header["jwk"].(map[string]any)
		key, thumb, err := publicJWK(jwk)
		if err != nil {
			return nil, err
		}
		jkt = thumb
		return key, nil
	}, jwt.WithValidMethods([]string{"ES256"}))
	if err != nil {
		return nil, "", "The DPoP proof JWT is invalid: " + err.Error()
	}
	maxAge := o.MaxAge
	if maxAge <= 0 {
		maxAge = time.Minute
	}
	iat, _ := claims["iat"].(float64)
	jti, _ := claims["jti"].(string)
	switch {
	case claims["htm"] != method:
		return nil, "", "The DPoP proof's htm does not match the request method."
	case claims["htu"] != target:
		return nil, "", "The DPoP proof's htu does not match the request URL."
	case iat == 0 || o.now().Sub(time.Unix(int64(iat), 0)).Abs() > maxAge:
		return nil, "", "The DPoP proof's iat is not within the allowed time."
	case jti == "" || o.jtis[jti]:
		return nil, "", "The DPoP proof's jti is missing or was used before."
	}
	if o.jtis == nil {
		o.jtis = map[string]bool{}
	}
	o.jtis[jti] = true
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		if claims["ath"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, "", "The DPoP proof's ath does not match the access token."
		}
	}
	return claims, jkt, ""
}

// publicJWK reads an EC P-256 public jwk and its RFC 7638 thumbprint.
func publicJWK(jwk map[string]any) (*ecdsa.PublicKey, string, error) {
	if jwk == nil {
		return nil, "", fmt.Errorf("no jwk header")
	}
	if _, private := jwk["d"]; private {
		return nil, "", fmt.Errorf("the jwk holds a private key")
	}
	x, _ := jwk["x"].(string)
	y, _ := jwk["y"].(string)
	if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
		return nil, "", fmt.Errorf("the jwk is not an EC P-256 key")
	}
	xb, xerr := base64.RawURLEncoding.DecodeString(x)
	yb, yerr := base64.RawURLEncoding.DecodeString(y)
	if xerr != nil || yerr != nil || len(xb) != 32 || len(yb) != 32 {
		return nil, "", fmt.Errorf("the jwk's x or y is not a P-256 coordinate")
	}
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, xb...), yb...))
	if err != nil {
		return nil, "", fmt.Errorf("the jwk is not a point on P-256")
	}
	// RFC 7638: the required members in lexicographic order, no white space.
	canonical := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, x, y)
	sum := sha256.Sum256([]byte(canonical))
	return key, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// requestURL is the URL a request was sent to, without its query: what htu and aud name.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}
