// Package config loads hookd's one typed configuration: defaults, then a YAML file, then
// HOOKD_* environment variables (and *_FILE variants for secrets), then validation with
// errors that name the setting to fix.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/hookd/hookd/internal/outbound"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"go.yaml.in/yaml/v3"
)

// MinAdminToken is the shortest admin token hookd takes off loopback: a token anyone on the
// network may guess at must not be guessable.
const MinAdminToken = 24

// Config is everything hookd can be told.
type Config struct {
	ListenAddr string `yaml:"listen_addr" env:"HOOKD_LISTEN_ADDR" validate:"required"`
	// AdminAddr is the admin listener: the operator console and its API, /metrics, /readyz. Anything
	// but a loopback address needs AdminToken.
	AdminAddr string `yaml:"admin_addr" env:"HOOKD_ADMIN_ADDR" validate:"required"`
	// AdminToken is the bearer token the admin listener asks for.
	AdminToken string `yaml:"admin_token" env:"HOOKD_ADMIN_TOKEN" secret:"true"`
	// AdminHosts are host names, beside localhost and loopback addresses, that a token-less
	// admin listener answers to (a tunnel's or a local alias); every other Host is refused,
	// against DNS rebinding.
	AdminHosts []string `yaml:"admin_hosts" env:"HOOKD_ADMIN_HOSTS" validate:"dive,hostname_rfc1123"`
	// DataDir holds the SQLite database and the generated Okta secret.
	DataDir string `yaml:"data_dir" env:"HOOKD_DATA_DIR" validate:"required"`
	// DatabaseURL, when set to a postgres:// URL, stores events in Postgres instead of SQLite.
	DatabaseURL string `yaml:"database_url" env:"HOOKD_DATABASE_URL" secret:"true"`
	// ConsoleURL is the console's address as an operator reaches it (through a proxy or a
	// tunnel, say): alerts link to the change there.
	ConsoleURL string `yaml:"console_url" env:"HOOKD_CONSOLE_URL"`
	// ReplicaID names this replica on Postgres, so that after a crash it rescues its own
	// running deliveries at start (default: the host name).
	ReplicaID string `yaml:"replica_id" env:"HOOKD_REPLICA_ID"`

	Okta      Okta      `yaml:"okta"`
	HTTP      HTTP      `yaml:"http"`
	Console   Console   `yaml:"console"`
	Slack     Slack     `yaml:"slack"`
	Webhook   Webhook   `yaml:"webhook"`
	SystemLog SystemLog `yaml:"systemlog"`
	Delivery  Delivery  `yaml:"delivery"`
	Log       Log       `yaml:"log"`
	// Detections tune the findings hookd adds to role changes.
	Detections Detections `yaml:"detections"`

	// Sinks names alert destinations (file only); HOOKD_SLACK_WEBHOOK_URL and
	// HOOKD_WEBHOOK_URL add one each, named "slack" and "webhook".
	Sinks []Sink `yaml:"sinks"`
	// Routes send matching events to chosen sinks, or drop them; the first match decides.
	Routes []Route `yaml:"routes"`
	// Severity sets the severity of a grant per role name: low, medium, high or critical.
	Severity map[string]string `yaml:"severity"`
}

// Sink is one named alert destination.
type Sink struct {
	Name string `yaml:"name"`
	// Type is slack, webhook, pagerduty, teams or console.
	Type string `yaml:"type"`
	// URL is the Slack incoming webhook or the webhook receiver (a secret for Slack).
	URL string `yaml:"url"`
	// Secret signs webhook requests: whsec_ and a base64 key.
	Secret string `yaml:"secret"`
	// RoutingKey is a PagerDuty service's Events API v2 integration key (a secret).
	RoutingKey string `yaml:"routing_key"`
	// Timeout bounds one request to the sink (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// Headers are static headers added to webhook requests (values are secrets).
	Headers map[string]string `yaml:"headers"`
	// MinSeverity drops alerts below it for this sink.
	MinSeverity string `yaml:"min_severity"`
	// PerSecond paces a Slack sink (default 1, Slack's documented rate for a webhook).
	PerSecond float64 `yaml:"per_second"`
	// SigningSecret is the signing secret of the Slack app whose incoming webhook URL is:
	// with it, the sink's messages carry buttons whose clicks Slack posts to
	// /slack/interactions (a secret). SigningSecretFile names a file holding it.
	SigningSecret     string `yaml:"signing_secret"`
	SigningSecretFile string `yaml:"signing_secret_file"`

	// Where names the setting the sink comes from, for problems: "sinks[2] (ops)", or
	// HOOKD_SLACK_WEBHOOK_URL / HOOKD_WEBHOOK_URL for the short forms; SecretWhere, its
	// secret's, when that is another (HOOKD_WEBHOOK_SECRET).
	Where       string `yaml:"-"`
	SecretWhere string `yaml:"-"`
}

// Route is one routing rule.
type Route struct {
	Name  string   `yaml:"name"`
	Match Match    `yaml:"match"`
	Sinks []string `yaml:"sinks"`
	Drop  bool     `yaml:"drop"`
	// Escalate sends the route's alerts to more sinks when nobody acknowledged them in time.
	Escalate *Escalate `yaml:"escalate"`
}

// Escalate is when, and to which sinks, an unacknowledged alert goes on.
type Escalate struct {
	After time.Duration `yaml:"after"`
	Sinks []string      `yaml:"sinks"`
}

// Match lists what a route matches; each list holds globs, any of which may match.
type Match struct {
	EventTypes   []string `yaml:"event_types"`
	Actions      []string `yaml:"actions"`
	Roles        []string `yaml:"roles"`
	SubjectKinds []string `yaml:"subject_kinds"`
	Outcomes     []string `yaml:"outcomes"`
	Actors       []string `yaml:"actors"`
	// Findings match changes with a finding of these ids (self-grant, short-lived,
	// fresh-granter, new-network, burst, off-hours; "*": any finding).
	Findings []string `yaml:"findings"`
}

// Okta is how Okta reaches hookd.
type Okta struct {
	// AuthHeader is the header Okta sends the secret in.
	AuthHeader string `yaml:"auth_header" env:"HOOKD_OKTA_AUTH_HEADER" validate:"required,printascii,excludesall= :"`
	// Secrets are the accepted header values; several are accepted at once for rotation.
	Secrets []string `yaml:"secrets" env:"HOOKD_OKTA_SECRETS" secret:"true" validate:"dive,required"`
	// EventsPath is the route Okta is registered with.
	EventsPath string `yaml:"events_path" env:"HOOKD_OKTA_EVENTS_PATH" validate:"required,startswith=/"`
	// HookName is the name (or id) of hookd's own event hook in Okta, as hookd okta register
	// names it: tampering with it is critical.
	HookName string `yaml:"hook_name" env:"HOOKD_OKTA_HOOK_NAME"`
	// WorkflowsApps identifies the Okta Workflows app instance (id, app name or label).
	WorkflowsApps []string `yaml:"workflows_apps" env:"HOOKD_OKTA_WORKFLOWS_APPS"`
	// AdminURL is the org's Admin Console (https://acme-admin.okta.com), which alerts link to;
	// needed only for an org on a custom domain, from which it cannot be told.
	AdminURL string `yaml:"admin_url" env:"HOOKD_OKTA_ADMIN_URL"`
}

// HTTP holds the server's limits.
type HTTP struct {
	BodyLimit int64 `yaml:"body_limit" env:"HOOKD_HTTP_BODY_LIMIT" validate:"min=1024"`
	// TrustedProxies are the CIDRs of proxies whose X-Forwarded-For hookd believes for the
	// client address it logs; from anyone else the direct peer address is used.
	TrustedProxies []string `yaml:"trusted_proxies" env:"HOOKD_TRUSTED_PROXIES" validate:"dive,cidr"`
	// MaxEvents caps the events of one delivery; past it the delivery is answered 413.
	MaxEvents         int           `yaml:"max_events" env:"HOOKD_HTTP_MAX_EVENTS" validate:"min=1"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" env:"HOOKD_HTTP_READ_HEADER_TIMEOUT" validate:"min=1000000"`
	ReadTimeout       time.Duration `yaml:"read_timeout" env:"HOOKD_HTTP_READ_TIMEOUT" validate:"min=1000000"`
	WriteTimeout      time.Duration `yaml:"write_timeout" env:"HOOKD_HTTP_WRITE_TIMEOUT" validate:"min=1000000"`
	IdleTimeout       time.Duration `yaml:"idle_timeout" env:"HOOKD_HTTP_IDLE_TIMEOUT" validate:"min=1000000"`
	// AcceptTimeout bounds how long a delivery waits for the store, below Okta's 3 s.
	AcceptTimeout   time.Duration `yaml:"accept_timeout" env:"HOOKD_HTTP_ACCEPT_TIMEOUT" validate:"min=1000000"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"HOOKD_SHUTDOWN_TIMEOUT" validate:"min=0"`
}

// Console is the sink that prints alerts on standard output.
type Console struct {
	// Enabled forces the console sink on; without any other sink it is on regardless.
	Enabled bool `yaml:"enabled" env:"HOOKD_CONSOLE"`
	// Format is "text" (one readable line an alert) or "json" (one JSON object a line).
	Format string `yaml:"format" env:"HOOKD_CONSOLE_FORMAT" validate:"oneof=text json"`
}

// Slack is the short way to name one Slack incoming webhook.
type Slack struct {
	WebhookURL string `yaml:"webhook_url" env:"HOOKD_SLACK_WEBHOOK_URL" secret:"true"`
	// SigningSecret is the signing secret of the Slack app the webhook belongs to (see
	// Sink.SigningSecret).
	SigningSecret string `yaml:"signing_secret" env:"HOOKD_SLACK_SIGNING_SECRET" secret:"true"`
}

// Webhook is the short way to name one signed generic webhook.
type Webhook struct {
	URL    string `yaml:"url" env:"HOOKD_WEBHOOK_URL" secret:"true"`
	Secret string `yaml:"secret" env:"HOOKD_WEBHOOK_SECRET" secret:"true"`
}

// SystemLog configures polling Okta's System Log API. It is on when OrgURL is set, with
// either an API token or a service app (client id and private key file).
type SystemLog struct {
	OrgURL       string        `yaml:"org_url" env:"HOOKD_OKTA_ORG_URL"`
	APIToken     string        `yaml:"api_token" env:"HOOKD_OKTA_API_TOKEN" secret:"true"`
	PollInterval time.Duration `yaml:"poll_interval" env:"HOOKD_SYSTEMLOG_POLL_INTERVAL" validate:"min=1000000000"`
	// ClientID and PrivateKeyFile name an Okta service app granted okta.logs.read.
	ClientID       string `yaml:"client_id" env:"HOOKD_OKTA_CLIENT_ID"`
	PrivateKeyFile string `yaml:"private_key_file" env:"HOOKD_OKTA_PRIVATE_KEY_FILE"`
	PrivateKeyID   string `yaml:"private_key_id" env:"HOOKD_OKTA_PRIVATE_KEY_ID"`
	// DPoPKeyFile is where the service app's DPoP key is kept (default: okta-dpop-key.pem in
	// the data dir), for a key the operator provides or keeps apart from the data.
	DPoPKeyFile string `yaml:"dpop_key_file" env:"HOOKD_OKTA_DPOP_KEY_FILE"`
	// EventTypes are polled (default: every watched type: the Workflows role types, which no
	// hook delivers, and the safety net for the types a hook may miss).
	EventTypes []string `yaml:"event_types" env:"HOOKD_SYSTEMLOG_EVENT_TYPES"`
	// LookBack is how far back the first poll reads.
	LookBack time.Duration `yaml:"look_back" env:"HOOKD_SYSTEMLOG_LOOK_BACK" validate:"min=0"`
	// SilenceAfter is how long polling may fail before every sink is told, once.
	SilenceAfter time.Duration `yaml:"silence_after" env:"HOOKD_SYSTEMLOG_SILENCE_AFTER" validate:"min=1000000000"`
}

// Enabled reports whether the System Log poller runs.
func (s *SystemLog) Enabled() bool { return s.OrgURL != "" }

// Delivery tunes the delivery queue.
type Delivery struct {
	Workers int `yaml:"workers" env:"HOOKD_DELIVERY_WORKERS" validate:"min=1,max=1000"`
	// MaxAttempts is how often a failing delivery is tried before its dead letter; the
	// default, 56, keeps trying for about 24 hours.
	MaxAttempts int `yaml:"max_attempts" env:"HOOKD_DELIVERY_MAX_ATTEMPTS" validate:"min=1,max=1000"`
	// GroupWindow holds alerts this long so the events of one admin action go out together.
	GroupWindow time.Duration `yaml:"group_window" env:"HOOKD_GROUP_WINDOW" validate:"min=0,max=60000000000"`
}

// Detections switch on, tune or off the findings hookd adds to a role change that looks like
// an attack. A duration or count of 0 switches its detection off.
type Detections struct {
	// SelfGrant finds an actor granting a role to themselves.
	SelfGrant bool `yaml:"self_grant" env:"HOOKD_DETECT_SELF_GRANT"`
	// ShortLived finds the revoke of a role granted less than this before.
	ShortLived time.Duration `yaml:"short_lived" env:"HOOKD_DETECT_SHORT_LIVED" validate:"min=0"`
	// FreshGranter finds a grant by an actor who received a privileged role less than this
	// before.
	FreshGranter time.Duration `yaml:"fresh_granter" env:"HOOKD_DETECT_FRESH_GRANTER" validate:"min=0"`
	// NewNetwork finds a change from a country or ASN not seen in the actor's earlier role
	// changes, once their history is NewNetworkHistory long.
	NewNetwork        bool          `yaml:"new_network" env:"HOOKD_DETECT_NEW_NETWORK"`
	NewNetworkHistory time.Duration `yaml:"new_network_history" env:"HOOKD_DETECT_NEW_NETWORK_HISTORY" validate:"min=0"`
	// BurstSubjects and BurstWindow find one actor changing roles for more than
	// BurstSubjects subjects within BurstWindow.
	BurstSubjects int           `yaml:"burst_subjects" env:"HOOKD_DETECT_BURST_SUBJECTS" validate:"min=0"`
	BurstWindow   time.Duration `yaml:"burst_window" env:"HOOKD_DETECT_BURST_WINDOW" validate:"min=0"`
	OffHours      OffHours      `yaml:"off_hours"`
}

// OffHours are the team's business hours; changes outside them are found when TimeZone is
// set (off by default).
type OffHours struct {
	// TimeZone is an IANA zone, such as Europe/Berlin.
	TimeZone string `yaml:"time_zone" env:"HOOKD_DETECT_OFF_HOURS_TIME_ZONE"`
	// Start and End are times of day, HH:MM (default 09:00 and 18:00).
	Start string `yaml:"start" env:"HOOKD_DETECT_OFF_HOURS_START"`
	End   string `yaml:"end" env:"HOOKD_DETECT_OFF_HOURS_END"`
	// Days are the working days, mon to sun (default mon to fri).
	Days []string `yaml:"days" env:"HOOKD_DETECT_OFF_HOURS_DAYS"`
}

// Weekdays maps the day names OffHours.Days takes to their weekday.
var Weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ClockTime reads HH:MM as the time since midnight.
func ClockTime(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q: must be HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func (o OffHours) problems() []string {
	if o.TimeZone == "" {
		return nil
	}
	var out []string
	if _, err := time.LoadLocation(o.TimeZone); err != nil {
		out = append(out, fmt.Sprintf("HOOKD_DETECT_OFF_HOURS_TIME_ZONE: %q is not a known time zone", o.TimeZone))
	}
	start, err1 := ClockTime(o.Start)
	if err1 != nil {
		out = append(out, "HOOKD_DETECT_OFF_HOURS_START: "+err1.Error())
	}
	end, err2 := ClockTime(o.End)
	if err2 != nil {
		out = append(out, "HOOKD_DETECT_OFF_HOURS_END: "+err2.Error())
	}
	if err1 == nil && err2 == nil && start >= end {
		out = append(out, "HOOKD_DETECT_OFF_HOURS_END: must be after HOOKD_DETECT_OFF_HOURS_START")
	}
	for _, d := range o.Days {
		if _, ok := Weekdays[strings.ToLower(strings.TrimSpace(d))]; !ok {
			out = append(out, fmt.Sprintf("HOOKD_DETECT_OFF_HOURS_DAYS: %q: must be mon, tue, wed, thu, fri, sat or sun", d))
		}
	}
	return out
}

// Log configures hookd's own logs (on standard error).
type Log struct {
	Level string `yaml:"level" env:"HOOKD_LOG_LEVEL" validate:"oneof=debug info warn error"`
	// Format is "json" (for collectors) or "text" (readable lines), as for the console sink;
	// "console", its earlier name, still means text.
	Format string `yaml:"format" env:"HOOKD_LOG_FORMAT" validate:"oneof=json text console"`
}

// Default returns the embedded defaults: SQLite in ./data, console sink, port 8080.
func Default() Config {
	return Config{
		ListenAddr: ":8080",
		AdminAddr:  "127.0.0.1:9090",
		DataDir:    "./data",
		Okta:       Okta{AuthHeader: "Authorization", EventsPath: "/okta/events", HookName: "hookd"},
		HTTP: HTTP{
			BodyLimit:         10 << 20,
			MaxEvents:         10000,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			AcceptTimeout:     2500 * time.Millisecond,
			ShutdownTimeout:   15 * time.Second,
		},
		Console:   Console{Format: "text"},
		SystemLog: SystemLog{PollInterval: 30 * time.Second, LookBack: time.Hour, SilenceAfter: 10 * time.Minute},
		Delivery:  Delivery{Workers: 32, MaxAttempts: 56, GroupWindow: 2 * time.Second},
		Log:       Log{Level: "info", Format: "json"},
		Detections: Detections{
			SelfGrant: true, ShortLived: time.Hour, FreshGranter: 24 * time.Hour,
			NewNetwork: true, NewNetworkHistory: 14 * 24 * time.Hour, BurstSubjects: 5, BurstWindow: 10 * time.Minute,
			OffHours: OffHours{Start: "09:00", End: "18:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}},
		},
	}
}

// Load builds the configuration from the defaults, the YAML file at path (if path is not
// empty), and the environment as getenv reports it.
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)                                               // a misspelt key is an error, not a silently ignored setting
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file
			return cfg, &Error{Problems: prefixAll(path+": ", yamlProblems(data, err))}
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	if err := cfg.readSinkFiles(); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Postgres reports whether the store is Postgres rather than the embedded SQLite.
func (c *Config) Postgres() bool { return c.DatabaseURL != "" }

// Validate checks the configuration and names each problem by its environment variable.
func (c *Config) Validate() error {
	var problems []string
	v := validator.New(validator.WithRequiredStructEnabled())
	if err := v.Struct(c); err != nil {
		var ves validator.ValidationErrors
		if !errors.As(err, &ves) {
			return err
		}
		for _, fe := range ves {
			problems = append(problems, envName(fe.StructNamespace())+": "+reason(fe))
		}
	}
	if c.ListenAddr != "" {
		_, port, err := net.SplitHostPort(c.ListenAddr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			problems = append(problems, "HOOKD_LISTEN_ADDR: must be host:port or :port")
		}
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			problems = append(problems, "HOOKD_DATABASE_URL: scheme must be postgres or postgresql")
		} else if u.Host == "" {
			problems = append(problems, "HOOKD_DATABASE_URL: needs a host")
		}
	}
	if (c.Webhook.URL == "") != (c.Webhook.Secret == "") {
		problems = append(problems, "HOOKD_WEBHOOK_URL and HOOKD_WEBHOOK_SECRET: set both or neither")
	}
	if host, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
		problems = append(problems, "HOOKD_ADMIN_ADDR: must be host:port")
	} else if !outbound.IsLoopback(host) && c.AdminToken == "" {
		problems = append(problems, "HOOKD_ADMIN_TOKEN: required when HOOKD_ADMIN_ADDR is not a loopback address ("+c.AdminAddr+"): the console, its repairs and the metrics must not be open to the network")
	} else if !outbound.IsLoopback(host) && len(c.AdminToken) < MinAdminToken {
		problems = append(problems, fmt.Sprintf("HOOKD_ADMIN_TOKEN: at least %d characters when HOOKD_ADMIN_ADDR is not a loopback address (this one has %d; openssl rand -base64 24 makes one)", MinAdminToken, len(c.AdminToken)))
	}
	if c.Postgres() && len(c.Okta.Secrets) == 0 {
		problems = append(problems, "HOOKD_OKTA_SECRETS: required with HOOKD_DATABASE_URL, so that every replica accepts the same secret")
	}
	sl := c.SystemLog
	if sl.OrgURL != "" && outbound.CheckURL(sl.OrgURL, true) != nil {
		problems = append(problems, "HOOKD_OKTA_ORG_URL: must be https://<org>.okta.com")
	}
	oauth := sl.ClientID != "" || sl.PrivateKeyFile != ""
	switch {
	case sl.OrgURL == "" && (sl.APIToken != "" || oauth):
		problems = append(problems, "HOOKD_OKTA_ORG_URL: required with HOOKD_OKTA_API_TOKEN or HOOKD_OKTA_CLIENT_ID")
	case sl.OrgURL != "" && sl.APIToken == "" && !oauth:
		problems = append(problems, "HOOKD_OKTA_ORG_URL: needs HOOKD_OKTA_API_TOKEN, or HOOKD_OKTA_CLIENT_ID with HOOKD_OKTA_PRIVATE_KEY_FILE")
	case sl.APIToken != "" && oauth:
		problems = append(problems, "HOOKD_OKTA_API_TOKEN and HOOKD_OKTA_CLIENT_ID: use one way to authenticate, not both")
	case oauth && (sl.ClientID == "" || sl.PrivateKeyFile == ""):
		problems = append(problems, "HOOKD_OKTA_CLIENT_ID and HOOKD_OKTA_PRIVATE_KEY_FILE: set both")
	case sl.DPoPKeyFile != "" && !oauth:
		problems = append(problems, "HOOKD_OKTA_DPOP_KEY_FILE: only with a service app (HOOKD_OKTA_CLIENT_ID): an API token has no DPoP key")
	}
	if c.Okta.AdminURL != "" && !isBaseURL(c.Okta.AdminURL, true) {
		problems = append(problems, "HOOKD_OKTA_ADMIN_URL: must be https://<host>, the Admin Console without a path")
	}
	if c.ConsoleURL != "" && !isBaseURL(c.ConsoleURL, false) {
		problems = append(problems, "HOOKD_CONSOLE_URL: must be an http(s):// URL, without a query")
	}
	problems = append(problems, c.Detections.OffHours.problems()...)
	if d := c.Detections; d.BurstSubjects > 0 && d.BurstWindow <= 0 {
		problems = append(problems, "HOOKD_DETECT_BURST_WINDOW: must be above 0 while HOOKD_DETECT_BURST_SUBJECTS is")
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// isBaseURL reports whether raw is an http(s) URL that links can be built under: no query,
// fragment or user info; an Okta one (okta) is https (unless to a loopback host) without a path.
func isBaseURL(raw string, okta bool) bool {
	u, err := url.Parse(raw)
	return err == nil && outbound.CheckURL(raw, okta) == nil && u.RawQuery == "" && u.Fragment == "" &&
		u.User == nil && (!okta || strings.Trim(u.Path, "/") == "")
}

// Error lists every problem found in a configuration, each naming its setting.
type Error struct{ Problems []string }

// Error lists the problems in one line.
func (e *Error) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

func reason(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "url":
		return "not a URL"
	case "startswith":
		return "must start with " + fe.Param()
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "min":
		return "must be at least " + limitText(fe)
	case "max":
		return "must be at most " + limitText(fe)
	case "printascii", "excludesall":
		return "must be a plain header name"
	}
	return "fails " + fe.Tag()
}

func limitText(fe validator.FieldError) string {
	if fe.Type() == durationType {
		n, _ := strconv.ParseInt(fe.Param(), 10, 64)
		return time.Duration(n).String()
	}
	return fe.Param()
}

func prefixAll(prefix string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = prefix + l
	}
	return out
}
