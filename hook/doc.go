// Package hook reads Okta's event-hook deliveries and System Log events and turns the role
// changes hookd watches into typed RoleChange records, the one domain type the rest of hookd
// depends on. It knows nothing of HTTP servers, storage or alert sinks.
package hook
