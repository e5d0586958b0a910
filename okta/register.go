package okta

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// SecretIDHeader is a static header hookd adds to its hook: a fingerprint of the secret (not
// the secret, which Okta never returns), so that registering again can tell whether the hook
// already carries the current secret.
const SecretIDHeader = "X-Hookd-Secret-Id"

// Registration is what hookd okta register asks of Okta.
type Registration struct {
	Name       string
	URL        string
	AuthHeader string
	Secret     string
	// Watched are the event types hookd watches; Eligible says which of them hookd's own
	// table marks as deliverable by a hook.
	Watched  []string
	Eligible func(eventType string) bool
}

// Registered is what registration did.
type Registered struct {
	Hook EventHook
	// Created and Updated say whether Okta's hook was written; neither means it was already
	// as asked.
	Created, Updated bool
	// Refused are the watched types the hook is not subscribed to because no hook delivers
	// them: those hookd's table marks ineligible, never asked of Okta, and those Okta named
	// in a refusal; in the order of Watched.
	Refused []string
	// NamedByOkta are those of Refused that hookd's table marks deliverable by a hook but
	// Okta refused: the org's catalog differs from hookd's.
	NamedByOkta []string
}

// SecretID fingerprints a secret for SecretIDHeader.
func SecretID(secret string) string {
	sum := sha256.Sum256([]byte("hookd okta secret\x00" + secret))
	return hex.EncodeToString(sum[:8])
}

// Register creates the event hook named r.Name, or brings the existing one up to date
// (idempotent: when it already is, nothing is written), and activates it. It never asks for a
// type hookd's table marks ineligible, and drops each type Okta names in a refusal (see
// writeHook).
func Register(ctx context.Context, c *Client, r Registration) (Registered, error) {
	hooks, err := c.ListEventHooks(ctx)
	if err != nil {
		return Registered{}, err
	}
	var existing *EventHook
	for i := range hooks {
		if hooks[i].Name == r.Name {
			existing = &hooks[i]
			break
		}
	}
	asked := slices.DeleteFunc(slices.Clone(r.Watched), func(t string) bool { return !r.Eligible(t) })
	var out Registered
	var wrote bool
	out.Hook, out.NamedByOkta, wrote, err = writeHook(ctx, c, existing, r, asked)
	for _, t := range r.Watched {
		if !slices.Contains(asked, t) || slices.Contains(out.NamedByOkta, t) {
			out.Refused = append(out.Refused, t)
		}
	}
	if err != nil {
		return out, err
	}
	out.Created = wrote && existing == nil
	out.Updated = wrote && existing != nil
	if out.Hook.Status != "ACTIVE" {
		if out.Hook, err = c.ActivateEventHook(ctx, out.Hook.ID); err != nil {
			return out, err
		}
	}
	return out, nil
}

// upToDate reports whether the hook already sends what r asks, where r asks it, with r's
// secret, for every one of types.
func upToDate(h EventHook, r Registration, types []string) bool {
	cfg := h.Channel.Config
	if cfg.URI != r.URL || cfg.AuthScheme == nil || !strings.EqualFold(cfg.AuthScheme.Key, r.AuthHeader) ||
		h.Header(SecretIDHeader) != SecretID(r.Secret) {
		return false
	}
	for _, t := range types {
		if !slices.Contains(h.Events.Items, t) {
			return false
		}
	}
	return true
}

// writeHook creates the hook subscribed to types, or replaces the existing one unless it is
// already up to date. Okta refuses the whole write for a type a hook cannot deliver and names
// only some of them (the real Okta one per answer), so the types it names are dropped and the
// write tried again, until Okta accepts or no type is left: each refusal drops at least one,
// so there are at most len(types) writes. A refusal that names no type asked ends it. named
// are the types dropped; wrote says whether Okta's hook was written.
func writeHook(ctx context.Context, c *Client, existing *EventHook, r Registration, types []string) (out EventHook, named []string, wrote bool, err error) {
	h := EventHook{
		Name:   r.Name,
		Events: HookEvents{Type: "EVENT_TYPE", Items: slices.Clone(types)},
		Channel: HookChannel{Type: "HTTP", Version: "1.0.0", Config: ChannelConfig{
			URI:        r.URL,
			Headers:    []HookHeader{{Key: SecretIDHeader, Value: SecretID(r.Secret)}},
			AuthScheme: &HookAuthSpec{Type: "HEADER", Key: r.AuthHeader, Value: r.Secret},
		}},
	}
	for len(h.Events.Items) > 0 {
		// A type Okta refused may be what kept an existing hook from being up to date.
		if existing != nil && upToDate(*existing, r, h.Events.Items) {
			return *existing, named, false, nil
		}
		if existing == nil {
			out, err = c.CreateEventHook(ctx, h)
		} else {
			out, err = c.ReplaceEventHook(ctx, existing.ID, h)
		}
		var apiErr *APIError
		if err == nil || !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
			return out, named, err == nil, err
		}
		refused := refusedTypes(h.Events.Items, apiErr)
		if len(refused) == 0 {
			return out, named, false, fmt.Errorf("%w: the refusal names no event type hookd asked for, so hookd does not retry", err)
		}
		named = append(named, refused...)
		h.Events.Items = slices.DeleteFunc(h.Events.Items, func(t string) bool { return slices.Contains(refused, t) })
		if len(h.Events.Items) == 0 {
			return out, named, false, fmt.Errorf("%w: Okta refused every event type hookd asked a hook for (%s); only the System Log poller brings them",
				err, strings.Join(named, ", "))
		}
	}
	return out, named, false, errors.New("no watched event type can be delivered by an Okta event hook: only the System Log poller brings them")
}

// refusedTypes are the requested types that Okta's error names, each as a whole name (not
// group.privilege.grant inside xgroup.privilege.grant).
func refusedTypes(requested []string, e *APIError) []string {
	text := e.Summary + " " + strings.Join(e.Causes, " ")
	var out []string
	for _, t := range requested {
		if namesType(text, t) {
			out = append(out, t)
		}
	}
	return out
}

// namesType reports whether text holds the event type t not as part of a longer name.
func namesType(text, t string) bool {
	inName := func(b byte) bool {
		return b == '.' || b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
	}
	for i := 0; ; {
		j := strings.Index(text[i:], t)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(t)
		// A sentence may end right after the name: "… eligible: a.b." names a.b.
		if (start == 0 || !inName(text[start-1])) &&
			(end == len(text) || !inName(text[end]) || text[end] == '.' && (end+1 == len(text) || !inName(text[end+1]))) {
			return true
		}
		i = start + 1
	}
}
