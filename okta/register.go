package okta

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	// Refused are the watched types Okta did not take for the hook (not hook-eligible).
	Refused []string
}

// SecretID fingerprints a secret for SecretIDHeader.
func SecretID(secret string) string {
	sum := sha256.Sum256([]byte("hookd okta secret\x00" + secret))
	return hex.EncodeToString(sum[:8])
}

// Register creates the event hook named r.Name, or brings the existing one up to date
// (idempotent: when it already is, nothing is written), and activates it.
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
	var out Registered
	switch {
	case existing == nil:
		out.Hook, out.Refused, err = writeHook(ctx, c, "", r, r.Watched)
		out.Created = err == nil
	case upToDate(*existing, r):
		out.Hook = *existing
		for _, t := range r.Watched {
			if !slices.Contains(existing.Events.Items, t) {
				out.Refused = append(out.Refused, t)
			}
		}
	default:
		out.Hook, out.Refused, err = writeHook(ctx, c, existing.ID, r, r.Watched)
		out.Updated = err == nil
	}
	if err != nil {
		return out, err
	}
	if out.Hook.Status != "ACTIVE" {
		if out.Hook, err = c.ActivateEventHook(ctx, out.Hook.ID); err != nil {
			return out, err
		}
	}
	return out, nil
}

// upToDate reports whether the hook already sends what r asks, where r asks it, with r's
// secret, for every watched type hookd knows a hook can deliver.
func upToDate(h EventHook, r Registration) bool {
	cfg := h.Channel.Config
	if cfg.URI != r.URL || cfg.AuthScheme == nil || !strings.EqualFold(cfg.AuthScheme.Key, r.AuthHeader) ||
		h.Header(SecretIDHeader) != SecretID(r.Secret) {
		return false
	}
	for _, t := range r.Watched {
		if r.Eligible(t) && !slices.Contains(h.Events.Items, t) {
			return false
		}
	}
	return true
}

// writeHook creates (id "") or replaces the hook subscribed to types. Okta refuses a type a
// hook cannot deliver with 400 for the whole request: the types it names in its causes, or
// failing that the ones hookd's table marks ineligible, are dropped and the write tried once
// more.
func writeHook(ctx context.Context, c *Client, id string, r Registration, types []string) (EventHook, []string, error) {
	h := EventHook{
		Name:   r.Name,
		Events: HookEvents{Type: "EVENT_TYPE", Items: types},
		Channel: HookChannel{Type: "HTTP", Version: "1.0.0", Config: ChannelConfig{
			URI:        r.URL,
			Headers:    []HookHeader{{Key: SecretIDHeader, Value: SecretID(r.Secret)}},
			AuthScheme: &HookAuthSpec{Type: "HEADER", Key: r.AuthHeader, Value: r.Secret},
		}},
	}
	var refused []string
	for try := 0; ; try++ {
		var out EventHook
		var err error
		if id == "" {
			out, err = c.CreateEventHook(ctx, h)
		} else {
			out, err = c.ReplaceEventHook(ctx, id, h)
		}
		var apiErr *APIError
		if err == nil || try > 0 || !errors.As(err, &apiErr) || apiErr.Status != 400 {
			return out, refused, err
		}
		named := refusedTypes(h.Events.Items, apiErr)
		if len(named) == 0 {
			for _, t := range h.Events.Items {
				if !r.Eligible(t) {
					named = append(named, t)
				}
			}
		}
		if len(named) == 0 {
			return out, refused, err
		}
		refused = append(refused, named...)
		h.Events.Items = slices.DeleteFunc(slices.Clone(h.Events.Items), func(t string) bool { return slices.Contains(named, t) })
	}
}

// refusedTypes are the requested types that Okta's error names.
func refusedTypes(requested []string, e *APIError) []string {
	text := e.Summary + " " + strings.Join(e.Causes, " ")
	var out []string
	for _, t := range requested {
		if strings.Contains(text, t) {
			out = append(out, t)
		}
	}
	return out
}
