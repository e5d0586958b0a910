package alerting_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookd/hookd/alerting"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoing answers the way careless receivers do: with the path and query they were asked
// for, the whole URL and the credentials sent, the request body, or a broken answer that the
// HTTP client quotes in its error.
var echoing = map[string]http.HandlerFunc{
	"404 Cannot POST": func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Cannot POST "+r.URL.RequestURI(), http.StatusNotFound)
	},
	"500 with the URL and headers": func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "failed http://"+r.Host+r.URL.RequestURI()+" authorization="+r.Header.Get("Authorization")+
			" signature="+r.Header.Get("webhook-signature")+" key="+r.Header.Get("X-Api-Key"), http.StatusInternalServerError)
	},
	"400 with the body": func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		http.Error(w, "invalid payload: "+string(body[:min(len(body), 300)]), http.StatusBadRequest)
	},
	"malformed answer": func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "BROKEN"+r.URL.RequestURI()+"\r\n\r\n")
	},
}

// TestSinkErrorsNeverShowTheirURLOrSecret: whatever a receiver echoes, a sink's error (what
// the console, dead letters and the log show) holds no secret part of its URL and none of its
// configured secrets.
func TestSinkErrorsNeverShowTheirURLOrSecret(t *testing.T) {
	const (
		signing   = "whsec_c2lnbmluZy1zZWNyZXQtMTIzNDU2Nzg5MA=="
		headerKey = "headersecret99"
	)
	a := payloadAlerts(t, "workflows-user-role-add.json")[0]
	tests := []struct {
		name    string
		sink    func(base string) (alerting.Sink, error)
		secrets []string
	}{
		{"slack", func(base string) (alerting.Sink, error) {
			return alerting.NewSlackSink("ops", base+"/services/T0SECRET1/B0SECRET2/slacksecrettoken123", 1000, "")
		}, []string{"/services/T0SECRET1/B0SECRET2/slacksecrettoken123", "T0SECRET1", "B0SECRET2", "slacksecrettoken123"}},
		{"teams", func(base string) (alerting.Sink, error) {
			return alerting.NewTeamsSink("secops", base+"/workflows/0123abcd4567ef89/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TeamsSig_abcdEFGH123")
		}, []string{"0123abcd4567ef89", "TeamsSig_abcdEFGH123"}},
		{"webhook", func(base string) (alerting.Sink, error) {
			return alerting.NewWebhookSink("siem", strings.Replace(base, "://", "://hookuser:hookpass123@", 1)+"/ingest/WebhookPathSecret9?token=querytoken42",
				signing, map[string]string{"X-Api-Key": headerKey})
		}, []string{"hookpass123", base64.StdEncoding.EncodeToString([]byte("hookuser:hookpass123")), "WebhookPathSecret9", "querytoken42",
			signing, strings.TrimPrefix(signing, "whsec_"), headerKey}},
		{"pagerduty", func(base string) (alerting.Sink, error) {
			return alerting.NewPagerDutySink("oncall", routingKey, base+"/v2/enqueue")
		}, []string{routingKey}},
	}
	for _, tt := range tests {
		for answer, handler := range echoing {
			t.Run(tt.name+"/"+answer, func(t *testing.T) {
				srv := httptest.NewServer(handler)
				t.Cleanup(srv.Close)
				sink, err := tt.sink(srv.URL)
				require.NoError(t, err)
				err = sink.Deliver(context.Background(), a)
				require.Error(t, err)
				for _, secret := range tt.secrets {
					assert.NotContains(t, err.Error(), secret)
				}
			})
		}
	}
}
