package main

import (
	"encoding/base64"
	"testing"

	"github.com/hookd/hookd/config"
	"github.com/stretchr/testify/assert"
)

// TestRedactorBlanksEveryPartOfSinkURLs: the console's last guard blanks what a receiver
// echoed of a sink's URL, not only the whole URL: a dead letter written before sink errors
// were redacted at their source still shows no secret.
func TestRedactorBlanksEveryPartOfSinkURLs(t *testing.T) {
	cfg := config.Config{Sinks: []config.Sink{
		{Name: "chat", Type: "slack", URL: "https://hooks.slack.com/services/T0SECRET1/B0SECRET2/slacksecrettoken123"},
		{Name: "siem", Type: "webhook", URL: "https://hookuser:hookpass123@siem.example/ingest/WebhookPathSecret9?token=querytoken42",
			Secret: "whsec_c2lnbmluZy1zZWNyZXQtMTIzNDU2Nzg5MA=="},
		{Name: "secops", Type: "teams", URL: "https://prod-00.westus.logic.azure.com:443/workflows/0123abcd4567ef89/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TeamsSig_abcdEFGH123"},
	}}
	basic := base64.StdEncoding.EncodeToString([]byte("hookuser:hookpass123"))
	redact := redactor(cfg.SecretValues())
	tests := []struct {
		text, kept string
		secrets    []string
	}{
		{"slack chat: HTTP 404 Cannot POST /services/T0SECRET1/B0SECRET2/slacksecrettoken123", "slack chat: HTTP 404 Cannot POST ",
			[]string{"T0SECRET1", "B0SECRET2", "slacksecrettoken123"}},
		{"slack chat: HTTP 404 no such token slacksecrettoken123 for team T0SECRET1", "slack chat: HTTP 404 no such token ",
			[]string{"T0SECRET1", "slacksecrettoken123"}},
		{"webhook siem: HTTP 401 bad token querytoken42 at siem.example/ingest/WebhookPathSecret9 (Basic " + basic + ")", "webhook siem: HTTP 401 bad token ",
			[]string{"querytoken42", "WebhookPathSecret9", basic}},
		{"webhook siem: HTTP 500 hookuser:hookpass123 refused", "webhook siem: HTTP 500 ", []string{"hookpass123"}},
		{"teams secops: HTTP 400 sig TeamsSig_abcdEFGH123 of workflow 0123abcd4567ef89 expired (api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TeamsSig_abcdEFGH123)",
			"teams secops: HTTP 400 sig ", []string{"TeamsSig_abcdEFGH123", "0123abcd4567ef89"}},
	}
	for _, tt := range tests {
		t.Run(tt.kept, func(t *testing.T) {
			got := redact(tt.text)
			for _, s := range tt.secrets {
				assert.NotContains(t, got, s)
			}
			assert.Contains(t, got, tt.kept, "hookd's own words stay readable")
			assert.Contains(t, got, "[redacted]")
		})
	}
}
