package hookd

import "time"

// The decisions a responder can record on a change from an alert.
const (
	Acknowledged   = "acknowledged"    // seen, being looked at
	ExpectedChange = "expected_change" // a change someone meant to make
	Suspicious     = "suspicious"      // a change that needs an investigation
)

// Decisions lists the decisions a responder can record.
var Decisions = []string{Acknowledged, ExpectedChange, Suspicious}

// Decision is what a responder said about a change, from an alert's buttons: it stops the
// change's escalation, and shows wherever the change does (console, API, later alerts).
type Decision struct {
	Decision string    `json:"decision"`
	ByID     string    `json:"byId"`
	ByName   string    `json:"byName"`
	At       time.Time `json:"at"`
	// Via says where it was made: "slack".
	Via string `json:"via"`
}
