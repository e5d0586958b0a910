// Package oktatest is a fake of Okta's Event Hooks API for tests: create, list, get,
// replace, activate, deactivate and verify, with Okta's request and answer shapes, a 400 for
// event types a hook cannot deliver (all at once, or one per answer as the real Okta names
// them), a 403 for a token without the permission, and the verification call back to the
// hook's URL.
package oktatest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta"
)

// EventHooks is the fake org.
type EventHooks struct {
	*httptest.Server
	// Token is the accepted SSWS token; ReadOnly is one that may list but not change hooks;
	// NoAccess is one Okta knows that may not even list them.
	Token, ReadOnly, NoAccess string
	// OneRefusalPerAnswer makes a write that asks for types a hook cannot deliver name only
	// the first of them, as the real Okta does: a client learns them one answer at a time.
	OneRefusalPerAnswer bool
	// Refuse are types refused though hookd's table marks them deliverable by a hook, as an
	// org whose catalog differs from hookd's would.
	Refuse []string
	// Log, when set, receives the System Log event each change writes (event_hook.created,
	// .updated, .activated, .deactivated), as Okta's own log would.
	Log func(eventType string, event json.RawMessage)

	mu       sync.Mutex
	hooks    []okta.EventHook
	secret   map[string]string // hook id -> auth header value, which Okta never returns
	writes   int
	attempts [][]string
}

// NewEventHooks starts a fake org; it stops with the test.
func NewEventHooks(t interface{ Cleanup(func()) }, token string) *EventHooks {
	f := &EventHooks{Token: token, secret: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Hooks returns the hooks as Okta would list them.
func (f *EventHooks) Hooks() []okta.EventHook {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]okta.EventHook(nil), f.hooks...)
}

// Writes counts creations and replacements.
func (f *EventHooks) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Attempts are the event types of each create or replace request, refused or not, in order.
func (f *EventHooks) Attempts() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]string, len(f.attempts))
	for i, a := range f.attempts {
		out[i] = append([]string(nil), a...)
	}
	return out
}

// SetStatus changes a hook's status, as an admin in the Admin Console would.
func (f *EventHooks) SetStatus(id, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.hooks {
		if f.hooks[i].ID == id {
			f.hooks[i].Status = status
		}
	}
}

// eligible is Okta's catalog as hookd knows it, less the types this org refuses; types hookd
// does not watch are not this fake's business.
func (f *EventHooks) eligible(t string) bool {
	return !slices.Contains(f.Refuse, t) && (!hook.IsWatched(t) || hook.HookEligible(t))
}

func oktaError(w http.ResponseWriter, status int, code, summary string, causes ...string) {
	type cause struct {
		ErrorSummary string `json:"errorSummary"`
	}
	body := map[string]any{"errorCode": code, "errorSummary": summary, "errorId": "oae" + randomID()}
	var cs []cause
	for _, c := range causes {
		cs = append(cs, cause{c})
	}
	body["errorCauses"] = cs
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *EventHooks) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	readOnly := f.ReadOnly != "" && auth == "SSWS "+f.ReadOnly
	noAccess := f.NoAccess != "" && auth == "SSWS "+f.NoAccess
	if auth != "SSWS "+f.Token && !readOnly && !noAccess {
		oktaError(w, 401, "E0000011", "Invalid token provided")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v1/eventHooks")
	if path == r.URL.Path {
		oktaError(w, 404, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	if noAccess || (r.Method != http.MethodGet && readOnly) {
		oktaError(w, 403, "E0000006", "You do not have permission to perform the requested action")
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "" && r.Method == http.MethodGet:
		writeJSON(w, 200, f.Hooks())
	case path == "" && r.Method == http.MethodPost:
		f.write(w, r, "")
	case len(parts) == 1 && r.Method == http.MethodPut:
		f.write(w, r, parts[0])
	case len(parts) == 1 && r.Method == http.MethodGet:
		if h, ok := f.get(parts[0]); ok {
			writeJSON(w, 200, h)
		} else {
			oktaError(w, 404, "E0000007", "Not found: Resource not found: "+parts[0]+" (EventHook)")
		}
	case len(parts) == 3 && parts[1] == "lifecycle" && r.Method == http.MethodPost:
		f.lifecycle(w, parts[0], parts[2])
	default:
		oktaError(w, 405, "E0000022", "The endpoint does not support the provided HTTP method")
	}
}

func (f *EventHooks) get(id string) (okta.EventHook, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hooks {
		if h.ID == id {
			return h, true
		}
	}
	return okta.EventHook{}, false
}

func (f *EventHooks) write(w http.ResponseWriter, r *http.Request, id string) {
	var h okta.EventHook
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &h); err != nil {
		oktaError(w, 400, "E0000003", "The request body was not well-formed.")
		return
	}
	f.mu.Lock()
	f.attempts = append(f.attempts, append([]string(nil), h.Events.Items...))
	f.mu.Unlock()
	var causes []string
	if h.Name == "" {
		causes = append(causes, "name: The field cannot be left blank")
	}
	if h.Events.Type != "EVENT_TYPE" || len(h.Events.Items) == 0 {
		causes = append(causes, "events: At least one event type is required")
	}
	for _, t := range h.Events.Items {
		if !f.eligible(t) {
			causes = append(causes, "events: Invalid event type: "+t+" is not eligible for event hooks")
			if f.OneRefusalPerAnswer {
				break
			}
		}
	}
	cfg := h.Channel.Config
	if h.Channel.Type != "HTTP" || h.Channel.Version != "1.0.0" {
		causes = append(causes, "channel: type must be HTTP, version 1.0.0")
	}
	loopback := strings.HasPrefix(cfg.URI, "http://127.0.0.1:") || strings.HasPrefix(cfg.URI, "http://localhost:")
	if !strings.HasPrefix(cfg.URI, "https://") && !loopback {
		causes = append(causes, "channel.config.uri: The URI must use https")
	}
	if cfg.AuthScheme == nil || cfg.AuthScheme.Type != "HEADER" || cfg.AuthScheme.Key == "" || cfg.AuthScheme.Value == "" {
		causes = append(causes, "channel.config.authScheme: type HEADER with a key and a value is required")
	}
	if len(causes) > 0 {
		oktaError(w, 400, "E0000001", "Api validation failed: eventHook", causes...)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	secret := cfg.AuthScheme.Value
	h.Channel.Config.AuthScheme.Value = "" // Okta never returns it
	if id == "" {
		h.ID = "who" + randomID()
		h.Status, h.VerificationStatus = "ACTIVE", "UNVERIFIED"
		f.hooks = append(f.hooks, h)
	} else {
		found := false
		for i := range f.hooks {
			if f.hooks[i].ID == id {
				h.ID, h.Status, h.VerificationStatus = id, f.hooks[i].Status, "UNVERIFIED"
				f.hooks[i] = h
				found = true
			}
		}
		if !found {
			oktaError(w, 404, "E0000007", "Not found: Resource not found: "+id+" (EventHook)")
			return
		}
	}
	f.secret[h.ID] = secret
	f.writes++
	if id == "" {
		defer f.log("event_hook.created", h)
	} else {
		defer f.log("event_hook.updated", h)
	}
	writeJSON(w, 200, h)
}

func (f *EventHooks) lifecycle(w http.ResponseWriter, id, action string) {
	h, ok := f.get(id)
	if !ok {
		oktaError(w, 404, "E0000007", "Not found: Resource not found: "+id+" (EventHook)")
		return
	}
	switch action {
	case "activate":
		f.SetStatus(id, "ACTIVE")
		f.log("event_hook.activated", h)
	case "deactivate":
		f.SetStatus(id, "INACTIVE")
		f.log("event_hook.deactivated", h)
	case "verify":
		f.mu.Lock()
		secret := f.secret[id]
		f.mu.Unlock()
		if err := callBack(h, secret); err != nil {
			oktaError(w, 400, "E0000001", "Api validation failed: Unable to verify event hook", err.Error())
			return
		}
		f.mu.Lock()
		for i := range f.hooks {
			if f.hooks[i].ID == id {
				f.hooks[i].VerificationStatus = "VERIFIED"
			}
		}
		f.mu.Unlock()
	default:
		oktaError(w, 404, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	h, _ = f.get(id)
	writeJSON(w, 200, h)
}

// callBack is Okta's one-time verification: a GET to the hook's URL with the challenge, the
// auth header and the custom headers; the answer must echo the challenge as JSON.
func callBack(h okta.EventHook, secret string) error {
	challenge := randomID()
	req, err := http.NewRequest(http.MethodGet, h.Channel.Config.URI, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Okta-Verification-Challenge", challenge)
	req.Header.Set(h.Channel.Config.AuthScheme.Key, secret)
	for _, x := range h.Channel.Config.Headers {
		req.Header.Set(x.Key, x.Value)
	}
	req.Header.Set("User-Agent", "Okta-Integrations")
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("the hook did not answer: %w", err)
	}
	defer resp.Body.Close()
	var answer struct {
		Verification string `json:"verification"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&answer) != nil || answer.Verification != challenge {
		return fmt.Errorf("the hook answered %d without the challenge", resp.StatusCode)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Actor is who the fake's System Log events name as having made each change.
var Actor = struct{ ID, Login, Name string }{"00uEve", "eve@acme.example", "Eve Admin"}

// log writes the System Log event of a change to the hook, in Okta's LogEvent shape.
func (f *EventHooks) log(eventType string, h okta.EventHook) {
	if f.Log == nil {
		return
	}
	ev := map[string]any{
		"uuid": "evh" + randomID(), "published": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"eventType": eventType, "version": "0", "severity": "INFO", "displayMessage": "Event hook lifecycle",
		"actor":       map[string]any{"id": Actor.ID, "type": "User", "alternateId": Actor.Login, "displayName": Actor.Name},
		"client":      map[string]any{"ipAddress": "198.51.100.66"},
		"outcome":     map[string]any{"result": "SUCCESS"},
		"transaction": map[string]any{"type": "WEB", "id": "tx" + randomID()},
		"target":      []map[string]any{{"id": h.ID, "type": "EventHook", "alternateId": h.Channel.Config.URI, "displayName": h.Name}},
	}
	raw, _ := json.Marshal(ev)
	f.Log(eventType, raw)
}
