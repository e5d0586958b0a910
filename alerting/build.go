package alerting

import (
	"errors"
	"fmt"
	"net/url"

	"io"
	"regexp"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/prometheus/client_golang/prometheus"
)

// SinkSpec describes one sink as the configuration names it.
type SinkSpec struct {
	// Where names the setting in problems: "sinks[2] (ops)" or "HOOKD_SLACK_WEBHOOK_URL".
	Where       string
	Name        string
	Type        string
	URL         string
	Secret      string
	RoutingKey  string
	Headers     map[string]string
	PerSecond   float64
	MinSeverity string
	// SigningSecret is a Slack sink's app signing secret (see NewSlackSink).
	SigningSecret string
	// SecretWhere names the setting of the sink's secret in problems about it, when it is not
	// Where ("HOOKD_WEBHOOK_SECRET").
	SecretWhere string
	// Timeout bounds one request to the sink (default 30 s).
	Timeout time.Duration
}

// Spec is everything that decides where alerts go and how loud they are.
type Spec struct {
	Sinks []SinkSpec
	Rules []Rule
	// Severity overrides the severity of a grant per role name.
	Severity map[string]string
	// Console is where the console sink writes, as JSON lines when ConsoleJSON.
	Console     io.Writer
	ConsoleJSON bool
	// Registerer, when set, receives hookd_alerts_dropped_total{rule}.
	Registerer prometheus.Registerer
	// OnDrop, when set, is told of each event a rule drops.
	OnDrop func(rc *hookd.RoleChange, rule string)
	// Links says where alerts link to.
	Links Links
}

// sinkName is what a sink may be called: it shows in logs, metrics and job rows.
var sinkName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// SinkTypes are the kinds of sink hookd has.
var SinkTypes = []string{"slack", "webhook", "pagerduty", "teams", "console"}

// Build makes the sinks and the routes. It is the one place that knows what a valid sink,
// severity or route is, so hookd check and hookd serve refuse the same configurations; it
// reports every problem it finds, one per line, each naming its setting and never a URL.
func Build(spec Spec) (*Router, error) {
	var problems []string
	routes := &Routes{MinSeverity: map[string]Severity{}, Severities: map[string]Severity{}}
	for role, level := range spec.Severity {
		sev, err := ParseSeverity(level)
		if err != nil {
			problems = append(problems, fmt.Sprintf("severity[%q]: must be low, medium, high or critical", role))
			continue
		}
		routes.Severities[strings.ToLower(strings.TrimSpace(role))] = sev
	}
	routes.Rules = spec.Rules
	router := NewRouter(routes)
	var declared []string // every sink named, built or not: a route to one that failed is not a second problem
	for _, s := range spec.Sinks {
		declared = append(declared, s.Name)
		if !sinkName.MatchString(s.Name) {
			problems = append(problems, s.Where+": name must be lower-case letters, digits, - or _")
		}
		sink, err := newSink(s, spec.Console, spec.ConsoleJSON)
		if err == nil && s.SigningSecret != "" && s.Type != "slack" {
			err = errors.New("signing_secret is for Slack sinks only")
		}
		if err == nil && s.Timeout < 0 {
			err = errors.New("timeout must be positive")
		}
		if t, ok := sink.(interface{ setTimeout(time.Duration) }); ok && err == nil && s.Timeout > 0 {
			t.setTimeout(s.Timeout)
		}
		if err == nil {
			err = router.Add(s.Name, sink)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				where := s.Where
				if strings.HasPrefix(line, "secret") && s.SecretWhere != "" {
					where = s.SecretWhere
				}
				problems = append(problems, where+": "+line)
			}
			continue
		}
		if u, err := url.Parse(s.URL); err == nil && u.Scheme == "http" && !outbound.IsLoopback(u.Hostname()) {
			router.warnings = append(router.warnings, s.Where+": plain http to a host off this machine: the alerts, and what "+
				"signs them, cross the network unencrypted; use https")
		}
		if s.MinSeverity != "" {
			sev, err := ParseSeverity(s.MinSeverity)
			if err != nil {
				problems = append(problems, s.Where+": min_severity must be low, medium, high or critical")
				continue
			}
			routes.MinSeverity[s.Name] = sev
		}
	}
	problems = append(problems, routes.problems(declared)...)
	for i, r := range routes.Rules {
		if r.Escalate != nil && !router.decidable(r.Sinks) {
			problems = append(problems, fmt.Sprintf("routes[%d].escalate: none of the route's sinks is a Slack sink with a signing_secret, so nobody can acknowledge its alerts in time", i))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	router.onDrop, router.links = spec.OnDrop, spec.Links
	if spec.Registerer != nil {
		router.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_alerts_dropped_total", Help: "Events a routing rule dropped (drop: true), by rule.",
		}, []string{"rule"})
		if err := spec.Registerer.Register(router.dropped); err != nil {
			return nil, err
		}
	}
	return router, nil
}

// newSink makes one sink of its type.
func newSink(s SinkSpec, console io.Writer, consoleJSON bool) (Sink, error) {
	switch s.Type {
	case "slack":
		return NewSlackSink(s.Name, s.URL, s.PerSecond, s.SigningSecret)
	case "webhook":
		return NewWebhookSink(s.Name, s.URL, s.Secret, s.Headers)
	case "pagerduty":
		return NewPagerDutySink(s.Name, s.RoutingKey, s.URL)
	case "teams":
		return NewTeamsSink(s.Name, s.URL)
	case "console":
		return NewConsoleSink(console, consoleJSON), nil
	}
	return nil, fmt.Errorf("type must be %s", strings.Join(SinkTypes, ", "))
}

// decidable reports whether one of the sinks carries the decision buttons.
func (r *Router) decidable(sinks []string) bool {
	for _, name := range sinks {
		if s, ok := r.sinks[name].(*SlackSink); ok && s.signingSecret != "" {
			return true
		}
	}
	return false
}

// Warnings are what Build found legal but unwise (a sink on plain http off this machine), one
// a line, each naming its setting and never a URL.
func (r *Router) Warnings() []string { return r.warnings }
