// Package hookd is hookd's domain, which every other package speaks and which imports none of
// them: the record of a change of who can use a watched role (RoleChange) and its kinds by
// Category (role changes, tampering, hookd's health, test alerts), the findings and decisions
// on it, what a delivery's failure means for the queue (Failure), and the store's contract
// with the receiver and the poller (AcceptResult). It also carries the sample deliveries of
// testdata/payloads, so that hookd replay works from any folder and in the container.
package hookd
