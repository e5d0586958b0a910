package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/config"
)

// buildRouter makes the configured sinks and routing rules.
func buildRouter(cfg config.Config, stdout io.Writer) (*alerting.Router, error) {
	routes := &alerting.Routes{MinSeverity: map[string]alerting.Severity{}, Severities: map[string]alerting.Severity{}}
	for role, level := range cfg.Severity {
		sev, err := alerting.ParseSeverity(level)
		if err != nil {
			return nil, fmt.Errorf("severity[%q]: %w", role, err)
		}
		routes.Severities[strings.ToLower(strings.TrimSpace(role))] = sev
	}
	for _, r := range cfg.Routes {
		routes.Rules = append(routes.Rules, alerting.Rule{
			Name: r.Name, EventTypes: r.Match.EventTypes, Actions: r.Match.Actions, Roles: r.Match.Roles,
			SubjectKinds: r.Match.SubjectKinds, Outcomes: r.Match.Outcomes, Actors: r.Match.Actors,
			Sinks: r.Sinks, Drop: r.Drop,
		})
	}
	router := alerting.NewRouter(routes)
	for _, s := range cfg.AllSinks() {
		var sink alerting.Sink
		var err error
		switch s.Type {
		case "slack":
			sink, err = alerting.NewSlackSink(s.Name, s.URL, s.PerSecond)
		case "webhook":
			sink, err = alerting.NewWebhookSink(s.Name, s.URL, s.Secret, s.Headers)
		case "console":
			sink = alerting.NewConsoleSink(stdout, cfg.Console.Format == "json")
		default:
			err = fmt.Errorf("sink %q: unknown type %q", s.Name, s.Type)
		}
		if err != nil {
			return nil, err
		}
		if err := router.Add(s.Name, sink); err != nil {
			return nil, err
		}
		if s.MinSeverity != "" {
			sev, err := alerting.ParseSeverity(s.MinSeverity)
			if err != nil {
				return nil, fmt.Errorf("sink %q: %w", s.Name, err)
			}
			routes.MinSeverity[s.Name] = sev
		}
	}
	if err := routes.Validate(router.Names()); err != nil {
		return nil, err
	}
	return router, nil
}
