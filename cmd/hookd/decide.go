package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/handlers"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/verify"
)

// slackDecisions records the decisions clicked in Slack alerts and replaces the messages
// clicked with the alert as decided.
type slackDecisions struct {
	store  *store.Store
	router *alerting.Router
	log    *zap.Logger
}

// slackOptions wires /slack/interactions to the Slack sinks that have a signing secret; nil
// without any.
func slackOptions(st *store.Store, router *alerting.Router, log *zap.Logger) *handlers.SlackOptions {
	secrets := router.SlackSigningSecrets()
	if len(secrets) == 0 {
		return nil
	}
	return &handlers.SlackOptions{Signer: verify.NewSlackSigner(secrets, nil), Decider: slackDecisions{st, router, log}}
}

// Decide records the click's decision, then, in the background (Slack waits 3 s for the
// answer), replaces the message it came from.
func (d slackDecisions) Decide(ctx context.Context, sink string, click handlers.SlackClick) error {
	decision := alerting.SlackDecisionOf(click.ActionID)
	if decision == "" {
		return fmt.Errorf("%w: not one of hookd's decision buttons", adminapi.ErrBadRequest)
	}
	dec := hook.Decision{Decision: decision, ByID: click.UserID, ByName: click.UserName, At: time.Now().UTC(), Via: "slack"}
	if err := d.store.Decide(ctx, click.EventID, dec, click.RequestKey); err != nil {
		return err
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		rc, err := d.store.Record(ctx, click.EventID)
		if err == nil {
			err = d.router.Respond(ctx, sink, click.ResponseURL, []*hook.RoleChange{rc}, &dec)
		}
		if err != nil {
			d.log.Warn("the Slack message of a decision was not replaced; the decision is recorded", zap.String("sink", sink),
				zap.String("event_uuid", click.EventID), zap.Error(err))
		}
	}()
	return nil
}
