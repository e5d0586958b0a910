package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

var sinkName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// AllSinks returns the configured sinks with the short-way ones (HOOKD_SLACK_WEBHOOK_URL,
// HOOKD_WEBHOOK_URL) added, and the console sink when no other is configured or it is
// enabled.
func (c *Config) AllSinks() []Sink {
	out := append([]Sink(nil), c.Sinks...)
	if c.Slack.WebhookURL != "" {
		out = append(out, Sink{Name: "slack", Type: "slack", URL: c.Slack.WebhookURL, short: true})
	}
	if c.Webhook.URL != "" {
		out = append(out, Sink{Name: "webhook", Type: "webhook", URL: c.Webhook.URL, Secret: c.Webhook.Secret, short: true})
	}
	hasConsole := false
	for _, s := range out {
		hasConsole = hasConsole || s.Type == "console"
	}
	if !hasConsole && (len(out) == 0 || c.Console.Enabled) {
		out = append(out, Sink{Name: "console", Type: "console"})
	}
	return out
}

func (c *Config) validateSinks() []string {
	var problems []string
	names := map[string]bool{}
	for i, s := range c.AllSinks() {
		where := fmt.Sprintf("sinks[%d]", i)
		if s.Name != "" {
			where += " (" + s.Name + ")"
		}
		switch {
		case !sinkName.MatchString(s.Name):
			problems = append(problems, where+": name must be lower-case letters, digits, - or _")
		case names[s.Name]:
			problems = append(problems, where+": the name is used twice (HOOKD_SLACK_WEBHOOK_URL is named slack, HOOKD_WEBHOOK_URL webhook)")
		}
		names[s.Name] = true
		switch {
		case s.short:
		case s.Type == "console":
		case s.Type == "slack":
			if !isHTTPURL(s.URL, true) {
				problems = append(problems, where+": url must be an https:// Slack incoming webhook URL (http only to a loopback host)")
			}
		case s.Type == "webhook":
			if !isHTTPURL(s.URL, false) {
				problems = append(problems, where+": url must be an http(s):// URL")
			}
			if !strings.HasPrefix(s.Secret, "whsec_") {
				problems = append(problems, where+": secret must start with whsec_")
			}
		default:
			problems = append(problems, where+": type must be slack, webhook or console")
		}
		if s.PerSecond < 0 || s.PerSecond > 1000 {
			problems = append(problems, where+": per_second must be between 0 (the default, 1) and 1000")
		}
		if s.MinSeverity != "" && !isSeverity(s.MinSeverity) {
			problems = append(problems, where+": min_severity must be low, medium, high or critical")
		}
	}
	for i, r := range c.Routes {
		for _, name := range r.Sinks {
			if !names[name] {
				problems = append(problems, fmt.Sprintf("routes[%d]: no sink named %q", i, name))
			}
		}
		if r.Drop == (len(r.Sinks) > 0) {
			problems = append(problems, fmt.Sprintf("routes[%d]: give either sinks or drop: true", i))
		}
	}
	for role, sev := range c.Severity {
		if !isSeverity(sev) {
			problems = append(problems, fmt.Sprintf("severity[%q]: must be low, medium, high or critical", role))
		}
	}
	return problems
}

func isSeverity(s string) bool {
	switch strings.ToLower(s) {
	case "low", "medium", "high", "critical":
		return true
	}
	return false
}

// isHTTPURL checks a URL's form without ever putting it in an error. With httpsOnly, plain
// http is still allowed to a loopback host, for local relays and tests.
func isHTTPURL(s string, httpsOnly bool) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && (!httpsOnly || isLoopback(u.Hostname())))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
