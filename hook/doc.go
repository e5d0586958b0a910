// Package hook reads Okta's wire format: event-hook deliveries and System Log events, checked
// and sorted, and the watched ones classified into the domain's records (hookd.RoleChange).
// It knows nothing of HTTP servers, storage or alert sinks.
package hook
