package okta

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/outbound"
)

// prover signs DPoP proofs (RFC 9449) with one EC P-256 key pair: the key Okta binds a
// DPoP-bound token to, which is not the key of the client assertion.
type prover struct {
	key *ecdsa.PrivateKey
	jwk map[string]any // the public key only
}

func newProver(key *ecdsa.PrivateKey) (*prover, error) {
	if key.Curve != elliptic.P256() {
		return nil, errors.New("DPoP key: must be an EC P-256 key")
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil || len(pub) != 65 {
		return nil, errors.New("DPoP key: not a valid EC P-256 key")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return &prover{key: key, jwk: map[string]any{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:])}}, nil
}

// proof is a new proof for one request: its method and URL (without query and fragment),
// the server's latest nonce when it gave one, and on API calls the hash of the access token
// it goes with. Each proof has its own random jti: a server refuses one it has seen.
func (p *prover) proof(method string, target *url.URL, nonce, accessToken string, now time.Time) (string, error) {
	claims := jwt.MapClaims{"jti": rand.Text(), "htm": method, "htu": htu(target), "iat": now.Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = p.jwk
	return tok.SignedString(p.key)
}

// htu is the URL a proof names: the request's without query, fragment or user info.
func htu(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// loadOrCreateDPoPKey reads the DPoP key kept at path, making one there the first time
// (EC P-256, PKCS#8 PEM, readable by this user only). An existing file is never
// overwritten: one that is not a P-256 key is an error naming the file, never quoting it.
func loadOrCreateDPoPKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, cerr := createDPoPKey(path)
		if !errors.Is(cerr, os.ErrExist) {
			return key, cerr
		}
		data, err = os.ReadFile(path) // another hookd made it first
	}
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	signer, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("DPoP key %s: %w", path, err)
	}
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("DPoP key %s: must be an EC P-256 private key", path)
	}
	return key, nil
}

// createDPoPKey makes a new key at path with O_EXCL, so that it never replaces one: a
// token bound to the old key would stop working, and the file may be the operator's.
func createDPoPKey(path string) (*ecdsa.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // made by this call and unusable half-written
		return nil, fmt.Errorf("DPoP key: write %s: %w", path, err)
	}
	return key, nil
}

// dpopAnswered is what Send asks of credentials that speak DPoP: note the nonce an answer
// carries, and say whether the answer is a nonce challenge worth sending the request again for.
type dpopAnswered interface {
	answered(req *http.Request, resp *http.Response) (retry bool)
}

// Send authorizes req with creds and sends it with client (nil: a bounded client that
// follows no redirect). A resource server's DPoP nonce challenge (401 with
// `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a DPoP-Nonce) is answered by sending
// the request once more with a fresh proof carrying the nonce, its body again from
// req.GetBody. The credentials' errors (ErrTokenRefused, *TokenError) come back as they
// are; the client's as net/http gives them, naming the URL: describe them with
// outbound.Describe.
func Send(ctx context.Context, client *http.Client, creds Credentials, req *http.Request) (*http.Response, error) {
	if client == nil {
		client = outbound.Client(30 * time.Second) // never http.DefaultClient: it waits forever
	}
	if err := creds.Authorize(ctx, req); err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	d, ok := creds.(dpopAnswered)
	if !ok || !d.answered(req, resp) {
		return resp, nil
	}
	again := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // cannot be sent again: the challenge is the answer
		}
		if again.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err := creds.Authorize(ctx, again); err != nil {
		return nil, err
	}
	resp, err = client.Do(again)
	if err != nil {
		return nil, err
	}
	d.answered(again, resp) // keeps a newer nonce; a second challenge is the answer
	return resp, nil
}

// DPoPRefusal is the reason a resource server refused a request's DPoP proof (a 401 whose
// DPoP challenge names invalid_dpop_proof, or use_dpop_nonce still after Send's retry), or
// nil when it did not. hookd makes the proofs, so such a refusal is not the credentials'
// fault and is worth trying again later.
func DPoPRefusal(resp *http.Response) error {
	if resp.StatusCode != http.StatusUnauthorized {
		return nil
	}
	code, desc := challenge(resp.Header)
	if !proofProblem(code) {
		return nil
	}
	return &APIError{Status: resp.StatusCode, Code: code, Summary: "hookd's DPoP proof was refused: " + desc}
}

// proofProblem reports an OAuth error about the DPoP proof rather than the client.
func proofProblem(code string) bool {
	return code == "invalid_dpop_proof" || code == "use_dpop_nonce"
}

// challenge is the error and error_description of the DPoP (else Bearer) challenge in
// WWW-Authenticate, clipped: what a resource server says of a refused token or proof.
func challenge(h http.Header) (code, description string) {
	found := map[string][2]string{}
	for _, v := range h.Values("WWW-Authenticate") {
		scheme := ""
		for _, part := range splitOutsideQuotes(v) {
			part = strings.TrimSpace(part)
			if name, rest, ok := strings.Cut(part, " "); ok && !strings.Contains(name, "=") {
				scheme, part = strings.ToLower(name), strings.TrimSpace(rest)
			} else if !strings.Contains(part, "=") {
				scheme, part = strings.ToLower(part), ""
			}
			k, val, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			got := found[scheme]
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "error":
				got[0] = val
			case "error_description":
				got[1] = val
			}
			found[scheme] = got
		}
	}
	for _, scheme := range []string{"dpop", "bearer"} {
		if got := found[scheme]; got[0] != "" {
			return clip.Bytes(got[0], 64), clip.Bytes(got[1], 300)
		}
	}
	return "", ""
}

// splitOutsideQuotes splits a header value at the commas that are not inside quotes.
func splitOutsideQuotes(v string) []string {
	var out []string
	quoted, start := false, 0
	for i, c := range v {
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// origin is the scheme and host a resource server's nonce belongs to.
func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }
