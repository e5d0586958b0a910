// Package verify authenticates Okta's requests by their configured header secret and answers
// Okta's one-time verification challenge.
package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// ErrMissing is returned when the request has no auth header or an empty one.
var ErrMissing = errors.New("missing auth header")

// ErrWrong is returned when the auth header matches none of the accepted secrets.
var ErrWrong = errors.New("wrong auth header")

// ErrNoSecrets is returned by New when no usable secret is given.
var ErrNoSecrets = errors.New("no Okta secret configured")

// ChallengeHeader carries Okta's one-time verification challenge.
const ChallengeHeader = "X-Okta-Verification-Challenge"

// Authenticator checks the header Okta sends with every request against the accepted
// secrets. Several secrets are accepted at once so that a secret can be rotated without
// dropping deliveries.
type Authenticator struct {
	header  string
	digests [][sha256.Size]byte
}

// New returns an Authenticator for the header name and secrets. Empty secrets are refused:
// an empty header must never authenticate.
func New(header string, secrets []string) (*Authenticator, error) {
	if strings.TrimSpace(header) == "" {
		return nil, errors.New("auth header name is empty")
	}
	a := &Authenticator{header: http.CanonicalHeaderKey(header)}
	for _, s := range secrets {
		if s == "" {
			return nil, errors.New("an Okta secret is empty")
		}
		a.digests = append(a.digests, sha256.Sum256([]byte(s)))
	}
	if len(a.digests) == 0 {
		return nil, ErrNoSecrets
	}
	return a, nil
}

// Header is the canonical name of the auth header.
func (a *Authenticator) Header() string { return a.header }

// Check returns nil when the request's auth header equals one of the secrets, ErrMissing or
// ErrWrong otherwise. The comparison takes the same time whichever secret matches, and
// however much of it does: both sides are hashed to a fixed length first, and every secret
// is compared.
func (a *Authenticator) Check(h http.Header) error {
	values := h.Values(a.header)
	if len(values) == 0 || values[0] == "" {
		return ErrMissing
	}
	if len(values) > 1 {
		return ErrWrong // a repeated header is not something Okta sends
	}
	got := sha256.Sum256([]byte(values[0]))
	match := 0
	for i := range a.digests {
		match |= subtle.ConstantTimeCompare(got[:], a.digests[i][:])
	}
	if match != 1 {
		return ErrWrong
	}
	return nil
}

// ErrNoChallenge is returned when a verification request lacks the challenge header.
var ErrNoChallenge = errors.New("missing " + ChallengeHeader + " header")

// Challenge returns the JSON body that answers Okta's verification request:
// {"verification":"<the header value>"}, JSON-encoded so that any value round-trips.
func Challenge(h http.Header) ([]byte, error) {
	value := h.Get(ChallengeHeader) // header names are matched without regard to case
	if value == "" {
		return nil, ErrNoChallenge
	}
	return json.Marshal(struct {
		Verification string `json:"verification"`
	}{value})
}
