package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/handlers"
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
// answer), replaces the message it came from with the alert as decided. A click on a button
// that decides nothing (the link to the console) is answered and recorded nowhere.
func (d slackDecisions) Decide(ctx context.Context, sink string, click handlers.SlackClick) error {
	decision := alerting.SlackDecisionOf(click.ActionID)
	if decision == "" {
		return handlers.ErrNotADecision
	}
	dec := hookd.Decision{Decision: decision, ByID: click.UserID, ByName: click.UserName, At: time.Now().UTC(), Via: "slack"}
	ids, err := d.store.Decide(ctx, click.EventID, dec, click.RequestKey)
	if err != nil {
		return err
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var changes []*hookd.RoleChange
		for _, id := range ids[:min(len(ids), maxReplaced)] {
			rc, err := d.store.Record(ctx, id)
			if err != nil {
				d.log.Warn("the Slack message of a decision was not replaced; the decision is recorded", zap.String("sink", sink),
					zap.String("event_uuid", id), zap.Error(err))
				return
			}
			changes = append(changes, rc)
		}
		if err := d.router.Respond(ctx, sink, click.ResponseURL, changes, &dec); err != nil {
			d.log.Warn("the Slack message of a decision was not replaced; the decision is recorded", zap.String("sink", sink),
				zap.String("event_uuid", click.EventID), zap.Error(err))
		}
	}()
	return nil
}

// maxReplaced bounds the changes a replaced message shows, as a message of one admin action
// does.
const maxReplaced = 100
