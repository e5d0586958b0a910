package hookd

import (
	"errors"
	"time"
)

// AcceptResult counts what storing a delivery's role changes did. The store produces it;
// the receiver and the System Log poller read it, without depending on the store.
type AcceptResult struct {
	// Accepted is how many records were new and are now stored with their delivery jobs, and
	// AcceptedByType how many of each event type.
	Accepted       int
	AcceptedByType map[string]int
	// Duplicates is how many were stored already (a redelivery) and were skipped.
	Duplicates int
	// Unstored is how many of Accepted the database refused to keep in the events table;
	// their delivery jobs carry them, flagged, so they are still alerted once.
	Unstored int
	// NotWatched is how many were group memberships of groups that held no watched role at
	// the time: kept in the store's view of membership, neither stored as changes nor alerted.
	NotWatched int
	// Problem is the first refusal's reason when Unstored is above zero.
	Problem string
}

// Empty reports whether the result counts nothing.
func (r AcceptResult) Empty() bool {
	return r.Accepted == 0 && r.Duplicates == 0 && r.Unstored == 0 && r.NotWatched == 0 && r.Problem == ""
}

// CountAccepted adds one accepted record of the event type.
func (r *AcceptResult) CountAccepted(eventType string) {
	r.Accepted++
	if r.AcceptedByType == nil {
		r.AcceptedByType = map[string]int{}
	}
	r.AcceptedByType[eventType]++
}

// Add adds o's counts to r, keeping r's Problem if it has one.
func (r *AcceptResult) Add(o AcceptResult) {
	r.Accepted += o.Accepted
	r.Duplicates += o.Duplicates
	r.Unstored += o.Unstored
	r.NotWatched += o.NotWatched
	for t, n := range o.AcceptedByType {
		if r.AcceptedByType == nil {
			r.AcceptedByType = map[string]int{}
		}
		r.AcceptedByType[t] += n
	}
	if r.Problem == "" {
		r.Problem = o.Problem
	}
}

// ErrUnavailable wraps every failure to reach or write the store: nothing was acknowledged,
// and the caller may retry.
var ErrUnavailable = errors.New("store unavailable")

// ErrClosed is returned when the store is closing or closed.
var ErrClosed = errors.New("store closed")

// GroupKey names the admin action a change belongs to: Okta writes one event per role it
// changes, all with the same transaction id and actor. Changes with the same key are alerted
// together. It is empty when Okta gave no transaction id or actor.
func (rc *RoleChange) GroupKey() string {
	if rc.Category == Tampering && rc.Action == DeliveryFailed {
		// Failed deliveries come in bursts, each its own event: one message a burst read
		// together, per hook and quarter of an hour.
		return "delivery-failed|" + rc.Subject.ID + "|" + rc.Published.UTC().Truncate(15*time.Minute).Format(time.RFC3339)
	}
	if rc.Via != nil && (rc.TransactionID == "" || rc.Actor.ID == "" || rc.Actor.Type == "SystemPrincipal") {
		// A group rule adds its members as the system, not in one admin's transaction: one
		// message a group, actor and quarter of an hour, as thousands may join at once.
		return "membership|" + rc.Via.ID + "|" + rc.Actor.ID + "|" + rc.Published.UTC().Truncate(15*time.Minute).Format(time.RFC3339)
	}
	if rc.TransactionID == "" || rc.Actor.ID == "" {
		return ""
	}
	return rc.TransactionID + "|" + rc.Actor.ID
}

// Summary stands for the alerts of a flood that a paced sink (Slack, Teams) could not send
// one by one in time: one message says how many there were, how severe and by whom, and each
// of them is recorded as delivered by it. The store makes it; alerting renders it.
type Summary struct {
	// Changes is how many role changes the summary stands for.
	Changes int
	// BySeverity counts them by the severity rank their alerts had (alerting's ranks).
	BySeverity map[int]int
	// Actors are the actors with the most of them, most first, with their counts, among the
	// first ActorsOf of them.
	Actors   []ActorCount
	ActorsOf int
	// Oldest and Newest are the earliest and latest of their times in Okta.
	Oldest, Newest time.Time
}

// ActorCount is how many of a summary's changes one actor made.
type ActorCount struct {
	Name  string
	Count int
}
