package hook

import (
	"encoding/json"
	"time"

	"github.com/hookd/hookd"
)

// EnvelopeEventType is the only envelope eventType Okta uses for event-hook deliveries.
const EnvelopeEventType = "com.okta.event_hook"

// Envelope is the body of an Okta event-hook POST, with its events kept as raw JSON so that
// each can be checked, classified and stored on its own.
type Envelope struct {
	EventType          string    `json:"eventType" validate:"eq=com.okta.event_hook"`
	EventTypeVersion   string    `json:"eventTypeVersion"`
	CloudEventsVersion string    `json:"cloudEventsVersion"`
	ContentType        string    `json:"contentType"`
	EventID            string    `json:"eventId"`
	EventTime          string    `json:"eventTime"`
	Source             string    `json:"source"`
	Data               *HookData `json:"data" validate:"required"`
}

// HookData holds the batch of System Log events of one delivery.
type HookData struct {
	Events []json.RawMessage `json:"events" validate:"required,min=1"`
}

// LogEvent is one Okta System Log event, as delivered by a hook or read from /api/v1/logs.
// Okta may add fields or send null for any of them at any time, so every part is optional.
type LogEvent struct {
	UUID                  string                 `json:"uuid"`
	Published             time.Time              `json:"published"`
	EventType             string                 `json:"eventType"`
	Version               string                 `json:"version,omitempty"`
	Severity              string                 `json:"severity,omitempty"`
	LegacyEventType       string                 `json:"legacyEventType,omitempty"`
	DisplayMessage        string                 `json:"displayMessage,omitempty"`
	Actor                 *Actor                 `json:"actor,omitempty"`
	Client                *Client                `json:"client,omitempty"`
	Device                *Device                `json:"device,omitempty"`
	Outcome               *hookd.Outcome         `json:"outcome,omitempty"`
	Target                []Target               `json:"target,omitempty"`
	Transaction           *Transaction           `json:"transaction,omitempty"`
	DebugContext          *DebugContext          `json:"debugContext,omitempty"`
	AuthenticationContext *AuthenticationContext `json:"authenticationContext,omitempty"`
	SecurityContext       *SecurityContext       `json:"securityContext,omitempty"`
	Request               *Request               `json:"request,omitempty"`
}

// Actor is who performed the action: a user, an app or Okta itself.
type Actor struct {
	ID          string          `json:"id,omitempty"`
	Type        string          `json:"type,omitempty"`
	AlternateID string          `json:"alternateId,omitempty"`
	DisplayName string          `json:"displayName,omitempty"`
	DetailEntry json.RawMessage `json:"detailEntry,omitempty"`
}

// Client is where the request that caused the event came from.
type Client struct {
	UserAgent           *UserAgent           `json:"userAgent,omitempty"`
	Zone                string               `json:"zone,omitempty"`
	Device              string               `json:"device,omitempty"`
	ID                  string               `json:"id,omitempty"`
	IPAddress           string               `json:"ipAddress,omitempty"`
	GeographicalContext *GeographicalContext `json:"geographicalContext,omitempty"`
}

// UserAgent is the client's user agent as Okta parsed it.
type UserAgent struct {
	RawUserAgent string `json:"rawUserAgent,omitempty"`
	OS           string `json:"os,omitempty"`
	Browser      string `json:"browser,omitempty"`
}

// GeographicalContext is Okta's geolocation of an IP address.
type GeographicalContext struct {
	City        string       `json:"city,omitempty"`
	State       string       `json:"state,omitempty"`
	Country     string       `json:"country,omitempty"`
	PostalCode  string       `json:"postalCode,omitempty"`
	Geolocation *Geolocation `json:"geolocation,omitempty"`
}

// Geolocation is a latitude and longitude.
type Geolocation struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Device is the device Okta associated with the event, when it knows one.
type Device struct {
	ID                    string          `json:"id,omitempty"`
	Name                  string          `json:"name,omitempty"`
	OSPlatform            string          `json:"os_platform,omitempty"`
	OSVersion             string          `json:"os_version,omitempty"`
	Managed               *bool           `json:"managed,omitempty"`
	Registered            *bool           `json:"registered,omitempty"`
	DeviceIntegrator      json.RawMessage `json:"device_integrator,omitempty"`
	DiskEncryptionType    string          `json:"disk_encryption_type,omitempty"`
	ScreenLockType        string          `json:"screen_lock_type,omitempty"`
	JailBreak             *bool           `json:"jailbreak,omitempty"`
	SecureHardwarePresent *bool           `json:"secure_hardware_present,omitempty"`
}

// Target is an entity the action was performed on: a user, a group, a role, an app.
type Target struct {
	ID            string          `json:"id,omitempty"`
	Type          string          `json:"type,omitempty"`
	AlternateID   string          `json:"alternateId,omitempty"`
	DisplayName   string          `json:"displayName,omitempty"`
	DetailEntry   json.RawMessage `json:"detailEntry,omitempty"`
	ChangeDetails *ChangeDetails  `json:"changeDetails,omitempty"`
}

// ChangeDetails holds the before and after values of a changed target, shape not fixed by Okta.
type ChangeDetails struct {
	From json.RawMessage `json:"from,omitempty"`
	To   json.RawMessage `json:"to,omitempty"`
}

// Transaction ties together the events written by one request or job.
type Transaction struct {
	Type   string          `json:"type,omitempty"`
	ID     string          `json:"id,omitempty"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

// DebugContext carries Okta's free-form debug data.
type DebugContext struct {
	DebugData DebugData `json:"debugData,omitempty"`
}

// DebugData is Okta's free-form key/value debug data. Its keys are not a contract; values are
// kept raw because Okta sends strings, numbers, arrays and objects there.
type DebugData map[string]json.RawMessage

// AuthenticationContext says how the actor authenticated.
type AuthenticationContext struct {
	AuthenticationProvider string  `json:"authenticationProvider,omitempty"`
	CredentialProvider     string  `json:"credentialProvider,omitempty"`
	CredentialType         string  `json:"credentialType,omitempty"`
	Issuer                 *Issuer `json:"issuer,omitempty"`
	ExternalSessionID      string  `json:"externalSessionId,omitempty"`
	Interface              string  `json:"interface,omitempty"`
	AuthenticationStep     int     `json:"authenticationStep,omitempty"`
}

// Issuer is the identity provider that issued the actor's credential.
type Issuer struct {
	ID   string `json:"id,omitempty"`
	Type string `json:"type,omitempty"`
}

// SecurityContext is Okta's view of the network the request came from.
type SecurityContext struct {
	ASNumber *int64 `json:"asNumber,omitempty"`
	ASOrg    string `json:"asOrg,omitempty"`
	ISP      string `json:"isp,omitempty"`
	Domain   string `json:"domain,omitempty"`
	IsProxy  *bool  `json:"isProxy,omitempty"`
}

// Request holds the chain of IP addresses the request passed through.
type Request struct {
	IPChain []IPChainEntry `json:"ipChain,omitempty"`
}

// IPChainEntry is one hop of a request's IP chain.
type IPChainEntry struct {
	IP                  string               `json:"ip,omitempty"`
	GeographicalContext *GeographicalContext `json:"geographicalContext,omitempty"`
	Version             string               `json:"version,omitempty"`
	Source              string               `json:"source,omitempty"`
}
