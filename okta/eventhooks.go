package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/outbound"
)

// EventHook is an event hook as Okta's Event Hooks API writes and reads it.
type EventHook struct {
	ID                 string      `json:"id,omitempty"`
	Name               string      `json:"name"`
	Status             string      `json:"status,omitempty"`             // ACTIVE | INACTIVE
	VerificationStatus string      `json:"verificationStatus,omitempty"` // VERIFIED | UNVERIFIED
	Events             HookEvents  `json:"events"`
	Channel            HookChannel `json:"channel"`
}

// HookEvents are the event types a hook is subscribed to.
type HookEvents struct {
	Type  string   `json:"type"` // EVENT_TYPE
	Items []string `json:"items"`
}

// HookChannel is where Okta sends deliveries and how it authenticates.
type HookChannel struct {
	Type    string        `json:"type"`    // HTTP
	Version string        `json:"version"` // 1.0.0
	Config  ChannelConfig `json:"config"`
}

// ChannelConfig is the hook's URL, extra headers and auth header.
type ChannelConfig struct {
	URI        string        `json:"uri"`
	Headers    []HookHeader  `json:"headers,omitempty"`
	AuthScheme *HookAuthSpec `json:"authScheme,omitempty"`
}

// HookHeader is a static header Okta adds to each delivery.
type HookHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// HookAuthSpec is the header Okta sends the secret in; Okta never returns the value.
type HookAuthSpec struct {
	Type  string `json:"type"` // HEADER
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Header returns the value of a static header, or "".
func (h EventHook) Header(key string) string {
	for _, x := range h.Channel.Config.Headers {
		if strings.EqualFold(x.Key, key) {
			return x.Value
		}
	}
	return ""
}

// APIError is an error answer of Okta's API: its status, code, summary and causes. It never
// holds a credential.
type APIError struct {
	Status  int
	Code    string
	Summary string
	Causes  []string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("Okta answered %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Summary != "" {
		s += ": " + e.Summary
	}
	if len(e.Causes) > 0 {
		s += " (" + strings.Join(e.Causes, "; ") + ")"
	}
	return s
}

// ErrForbidden marks a 403: the credential lacks the permission the call needs.
var ErrForbidden = errors.New("forbidden")

// Unwrap is ErrForbidden for a 403.
func (e *APIError) Unwrap() error {
	if e.Status == http.StatusForbidden {
		return ErrForbidden
	}
	return nil
}

// Client calls Okta's management APIs for one org.
type Client struct {
	OrgURL      string
	Credentials Credentials
	// HTTP is the client used (default: a bounded one that follows no redirect).
	HTTP *http.Client
}

// ListEventHooks returns the org's event hooks.
func (c *Client) ListEventHooks(ctx context.Context) ([]EventHook, error) {
	var out []EventHook
	return out, c.do(ctx, http.MethodGet, "/api/v1/eventHooks", nil, &out)
}

// CreateEventHook creates h and returns it as Okta stored it.
func (c *Client) CreateEventHook(ctx context.Context, h EventHook) (EventHook, error) {
	var out EventHook
	return out, c.do(ctx, http.MethodPost, "/api/v1/eventHooks", h, &out)
}

// ReplaceEventHook replaces the hook with id by h.
func (c *Client) ReplaceEventHook(ctx context.Context, id string, h EventHook) (EventHook, error) {
	var out EventHook
	return out, c.do(ctx, http.MethodPut, "/api/v1/eventHooks/"+url.PathEscape(id), h, &out)
}

// ActivateEventHook activates the hook with id.
func (c *Client) ActivateEventHook(ctx context.Context, id string) (EventHook, error) {
	var out EventHook
	return out, c.do(ctx, http.MethodPost, "/api/v1/eventHooks/"+url.PathEscape(id)+"/lifecycle/activate", nil, &out)
}

// VerifyEventHook asks Okta to verify the hook with id: Okta sends the one-time challenge
// to the hook's URL and answers with the hook and its verification status.
func (c *Client) VerifyEventHook(ctx context.Context, id string) (EventHook, error) {
	var out EventHook
	return out, c.do(ctx, http.MethodPost, "/api/v1/eventHooks/"+url.PathEscape(id)+"/lifecycle/verify", nil, &out)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(b)
	}
	status, h, data, err := c.send(ctx, method, path, reader, maxAnswer)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return refusal(status, h, data)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: unreadable answer: %w", method, pathOf(path), err)
	}
	return nil
}

// maxAnswer bounds an answer of the Event Hooks and role APIs.
const maxAnswer = 4 << 20

// send makes one request of the org's API through Send, so that SSWS tokens and DPoP-bound
// ones work alike, and returns the answer's status, headers and body (at most limit bytes).
func (c *Client) send(ctx context.Context, method, target string, body io.Reader, limit int64) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.OrgURL, "/")+target, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := c.HTTP
	if client == nil {
		client = outbound.Client(30 * time.Second)
	}
	resp, err := Send(ctx, client, c.Credentials, req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			return 0, nil, nil, fmt.Errorf("%s %s: %s", method, pathOf(target), outbound.Describe(err))
		}
		return 0, nil, nil, err // the credentials': what Okta's token endpoint said, say
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %s", method, pathOf(target), outbound.Describe(err))
	}
	if int64(len(data)) > limit {
		return 0, nil, nil, fmt.Errorf("%s %s: answer too large", method, pathOf(target))
	}
	return resp.StatusCode, resp.Header, data, nil
}

// refusal is an answer that is not a success as an APIError: Okta's body, or, for a refused
// OAuth token or DPoP proof, what WWW-Authenticate explains.
func refusal(status int, h http.Header, body []byte) *APIError {
	e := apiError(status, body)
	if e.Code == "" {
		e.Code, e.Summary = challenge(h)
	}
	return e
}

func apiError(status int, body []byte) *APIError {
	var e struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
		ErrorCauses  []struct {
			ErrorSummary string `json:"errorSummary"`
		} `json:"errorCauses"`
	}
	out := &APIError{Status: status}
	if json.Unmarshal(body, &e) == nil {
		out.Code, out.Summary = e.ErrorCode, clip.Bytes(e.ErrorSummary, 300)
		for _, c := range e.ErrorCauses {
			out.Causes = append(out.Causes, clip.Bytes(c.ErrorSummary, 300))
		}
	}
	return out
}
