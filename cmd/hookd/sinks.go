package main

import (
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/config"
)

// buildRouter makes the configured sinks and routing rules. serve and check both call it, so
// they refuse the same configurations.
func buildRouter(cfg config.Config, stdout io.Writer, reg prometheus.Registerer, log *zap.Logger) (*alerting.Router, error) {
	spec := alerting.Spec{Severity: cfg.Severity, Console: stdout, ConsoleJSON: cfg.Console.Format == "json", Registerer: reg,
		Links: alerting.Links{AdminURL: cfg.Okta.AdminURL, OrgURL: cfg.SystemLog.OrgURL, ConsoleURL: cfg.ConsoleURL}}
	if log != nil {
		spec.OnDrop = func(rc *hookd.RoleChange, rule string) {
			log.Debug("alert dropped by a routing rule", zap.String("rule", rule),
				zap.String("event_uuid", rc.EventID), zap.String("event_type", rc.EventType))
		}
	}
	for _, s := range cfg.AllSinks() {
		spec.Sinks = append(spec.Sinks, alerting.SinkSpec{Where: s.Where, Name: s.Name, Type: s.Type, URL: s.URL,
			Secret: s.Secret, RoutingKey: s.RoutingKey, Headers: s.Headers, Timeout: s.Timeout, PerSecond: s.PerSecond, MinSeverity: s.MinSeverity,
			SigningSecret: s.SigningSecret, SecretWhere: s.SecretWhere})
	}
	for _, r := range cfg.Routes {
		rule := alerting.Rule{
			Name: r.Name, EventTypes: r.Match.EventTypes, Actions: r.Match.Actions, Roles: r.Match.Roles,
			SubjectKinds: r.Match.SubjectKinds, Outcomes: r.Match.Outcomes, Actors: r.Match.Actors, Findings: r.Match.Findings,
			Sinks: r.Sinks, Drop: r.Drop,
		}
		if r.Escalate != nil {
			rule.Escalate = &alerting.Escalation{After: r.Escalate.After, Sinks: r.Escalate.Sinks}
		}
		spec.Rules = append(spec.Rules, rule)
	}
	router, err := alerting.Build(spec)
	if err != nil {
		return nil, fmt.Errorf("sinks and routes:\n%w", err)
	}
	return router, nil
}
