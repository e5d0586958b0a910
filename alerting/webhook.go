package alerting

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/outbound"
)

// WebhookSink POSTs each alert as a versioned JSON document, signed the Standard Webhooks
// way so that any Standard Webhooks library can verify it:
//
//	webhook-id:        stable for the alert and sink, the same on every retry
//	webhook-timestamp: Unix seconds of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">
type WebhookSink struct {
	poster
	key     []byte
	headers map[string]string
}

// WebhookDocument is the body of every webhook request (version 1).
type WebhookDocument struct {
	Version  int      `json:"version"`
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	// Test is set on a test alert an operator sent from the console: no role changed.
	Test bool `json:"test,omitempty"`
	// Findings are what made hookd look twice at the alert's changes (each change also lists
	// its own); absent when there are none.
	Findings []WebhookFinding `json:"findings,omitempty"`
	// Links are where a responder goes from the alert (see Link); absent when there are none.
	Links  []Link              `json:"links,omitempty"`
	Alerts []*hookd.RoleChange `json:"alerts"`
}

// WebhookFinding is one finding as the webhook document names it.
type WebhookFinding struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// reservedHeaders cannot be set by configuration: they carry the signature and the format.
var reservedHeaders = []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Content-Type", "Content-Length", "Host"}

// NewWebhookSink returns a sink posting to url, signing with secret ("whsec_" + base64 key),
// adding the static headers (values are treated as secrets: never logged).
func NewWebhookSink(name, url, secret string, headers map[string]string) (*WebhookSink, error) {
	var problems []error
	if err := outbound.CheckURL(url, false); err != nil {
		problems = append(problems, err)
	}
	var key []byte
	if encoded, ok := strings.CutPrefix(secret, "whsec_"); !ok {
		problems = append(problems, errors.New("secret must start with whsec_"))
	} else if k, err := base64.StdEncoding.DecodeString(encoded); err != nil || len(k) < 16 {
		problems = append(problems, errors.New("secret must be whsec_ and at least 16 bytes in base64"))
	} else {
		key = k
	}
	for h := range headers {
		for _, r := range reservedHeaders {
			if strings.EqualFold(h, r) {
				problems = append(problems, fmt.Errorf("header %s is set by hookd", r))
			}
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	secrets := []string{secret, strings.TrimPrefix(secret, "whsec_")}
	for _, v := range headers {
		secrets = append(secrets, v)
	}
	return &WebhookSink{poster: newPoster("webhook "+name, url, 0, 0, secrets...), key: key, headers: headers}, nil
}

// MessageID is the webhook-id of an alert to a sink: stable across retries, so a receiver
// can drop a retry it has already processed.
func MessageID(sink string, a *Alert) string {
	sum := sha256.Sum256([]byte(sink + "\x00" + a.ID()))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// Deliver posts the alert.
func (s *WebhookSink) Deliver(ctx context.Context, a *Alert) error {
	id := MessageID(s.name, a)
	doc := WebhookDocument{Version: 1, ID: id, Title: alertTitle(a), Severity: a.Severity, Test: a.First().Category == hookd.Test, Links: a.Links, Alerts: a.Changes}
	for _, f := range findingsOf(a) {
		doc.Findings = append(doc.Findings, WebhookFinding{ID: f.ID, Title: f.Title, Detail: f.Detail})
	}
	body, err := encodeJSON(doc)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode: %w", s.name, err))
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	headers := make(map[string]string, len(s.headers)+3)
	for k, v := range s.headers {
		headers[k] = v
	}
	headers["webhook-id"] = id
	headers["webhook-timestamp"] = ts
	headers["webhook-signature"] = "v1," + sign(s.key, id, ts, body)
	return s.post(ctx, body, headers)
}

func sign(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
