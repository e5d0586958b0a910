package config

import (
	"fmt"
)

// AllSinks returns the configured sinks with the short-way ones (HOOKD_SLACK_WEBHOOK_URL,
// HOOKD_WEBHOOK_URL) added, and the console sink when no other is configured or it is
// enabled.
func (c *Config) AllSinks() []Sink {
	var out []Sink
	for i, s := range c.Sinks {
		s.Where = fmt.Sprintf("sinks[%d]", i)
		if s.Name != "" {
			s.Where += " (" + s.Name + ")"
		}
		out = append(out, s)
	}
	if c.Slack.WebhookURL != "" {
		out = append(out, Sink{Name: "slack", Type: "slack", URL: c.Slack.WebhookURL, SigningSecret: c.Slack.SigningSecret, Where: "HOOKD_SLACK_WEBHOOK_URL"})
	}
	if c.Webhook.URL != "" {
		out = append(out, Sink{Name: "webhook", Type: "webhook", URL: c.Webhook.URL, Secret: c.Webhook.Secret, Where: "HOOKD_WEBHOOK_URL",
			SecretWhere: "HOOKD_WEBHOOK_SECRET"})
	}
	hasConsole := false
	for _, s := range out {
		hasConsole = hasConsole || s.Type == "console"
	}
	if !hasConsole && (len(out) == 0 || c.Console.Enabled) {
		out = append(out, Sink{Name: "console", Type: "console", Where: "console"})
	}
	return out
}

// SinkSummaries describes each sink for hookd check, secrets hidden.
func (c *Config) SinkSummaries() []string {
	var out []string
	for _, s := range c.AllSinks() {
		line := s.Name + " (" + s.Type
		if s.URL != "" {
			line += ", url set, hidden"
		}
		if s.Secret != "" {
			line += ", secret set, hidden"
		}
		if s.RoutingKey != "" {
			line += ", routing key set, hidden"
		}
		if s.SigningSecret != "" {
			line += ", signing secret set, hidden"
		}
		if len(s.Headers) > 0 {
			line += fmt.Sprintf(", %d headers, hidden", len(s.Headers))
		}
		if s.MinSeverity != "" {
			line += ", min severity " + s.MinSeverity
		}
		out = append(out, line+")")
	}
	return out
}

// readSinkFiles reads each sink's signing_secret_file into its signing secret.
func (c *Config) readSinkFiles() error {
	var problems []string
	for i := range c.Sinks {
		s := &c.Sinks[i]
		if s.SigningSecretFile == "" {
			continue
		}
		where := fmt.Sprintf("sinks[%d]", i)
		if s.SigningSecret != "" {
			problems = append(problems, where+": signing_secret and signing_secret_file: set one, not both")
			continue
		}
		secret, err := readSecretFile(s.SigningSecretFile)
		if err != nil {
			problems = append(problems, where+": signing_secret_file: "+err.Error())
			continue
		}
		s.SigningSecret = secret
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}
