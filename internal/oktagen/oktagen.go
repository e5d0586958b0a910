// Package oktagen makes Okta-shaped event-hook bodies for hookd's load and fault tools:
// watched events with fresh uuids, and the hostile bodies an attacker with the secret (or a
// broken proxy) could send.
package oktagen

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"time"
)

// UUID returns a random version 4 uuid.
func UUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Event is one watched event (a Workflows role granted to a user), about 1.5 KB.
type Event struct {
	UUID string
	// EventType defaults to workflows.user.role.user.add; other types exercise the
	// not-watched path.
	EventType string
	// DisplayName is the subject's display name, JSON-escaped by Event (default "Bob Builder").
	DisplayName string
	// TransactionID groups events of one admin action (default: a fresh one).
	TransactionID string
	// ActorID and SubjectID are the Okta ids of who made the change and for whom (default
	// Alice's and Bob's).
	ActorID, SubjectID string
	// Role is the Workflows role granted (default Folder Editor, a high alert; Workflows
	// Administrator is a critical one).
	Role string
}

// JSON returns the event's text.
func (e Event) JSON(published time.Time) []byte {
	if e.UUID == "" {
		e.UUID = UUID()
	}
	if e.EventType == "" {
		e.EventType = "workflows.user.role.user.add"
	}
	if e.DisplayName == "" {
		e.DisplayName = "Bob Builder"
	}
	if e.TransactionID == "" {
		e.TransactionID = UUID()[:20]
	}
	if e.ActorID == "" {
		e.ActorID = "00u1adm1n2xYzAbC3d4"
	}
	if e.SubjectID == "" {
		e.SubjectID = "00u2b0bUs3r4xYz5a6b"
	}
	if e.Role == "" {
		e.Role = "Folder Editor"
	}
	name, _ := json.Marshal(e.DisplayName)
	role, _ := json.Marshal(e.Role)
	return fmt.Appendf(nil, eventTemplate, e.UUID, published.UTC().Format("2006-01-02T15:04:05.000Z"), e.EventType, e.ActorID, e.SubjectID, name, role, role, e.TransactionID)
}

// Delivery wraps events in Okta's event-hook envelope.
func Delivery(events ...[]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","contentType":"application/json","eventId":%q,"eventTime":%q,"source":"https://acme.okta.com/api/v1/eventHooks/who8vt36qfNpCGz9H1e6","data":{"events":[`,
		UUID(), time.Now().UTC().Format(time.RFC3339))
	for i, ev := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(ev)
	}
	b.WriteString("]}}")
	return b.Bytes()
}

// Watched returns a delivery of n watched events with fresh uuids.
func Watched(n int) []byte { return WatchedAmong(n, 0) }

// WatchedAmong is Watched with each event's subject drawn at random from people users and
// its actor from one in ten of them (0: every event by Alice for Bob).
func WatchedAmong(n, people int) []byte { return Mixed(n, n, people) }

// Mixed is WatchedAmong with only the first watched of the n events watched role changes;
// the others are sign-ins (user.session.start), which hookd reads and does not store.
func Mixed(n, watched, people int) []byte {
	body, _ := MixedIDs(n, watched, people)
	return body
}

// MixedIDs is Mixed that also returns the uuids of the watched events, the ones hookd
// alerts: a receiver of the alerts can then tell when every one of them has arrived.
func MixedIDs(n, watched, people int) ([]byte, []string) {
	now := time.Now()
	events := make([][]byte, n)
	var ids []string
	for i := range events {
		e := Event{}
		if i >= watched {
			e.EventType = "user.session.start"
		} else {
			e.UUID = UUID()
			ids = append(ids, e.UUID)
		}
		if people > 0 {
			e.SubjectID = fmt.Sprintf("00uload%012d", mathrand.IntN(people))
			e.ActorID = fmt.Sprintf("00uload%012d", mathrand.IntN(people/10+1))
		}
		events[i] = e.JSON(now)
	}
	return Delivery(events...), ids
}

// Hostile is one named body of the hostile corpus.
type Hostile struct {
	Name string
	Body []byte
}

// HostileCorpus returns bodies of about size bytes each that stress a receiver's memory and
// time: as many watched events as fit, millions of empty objects, deep nesting, huge
// strings, and a huge string inside a watched event.
func HostileCorpus(size int) []Hostile {
	ev := Event{}.JSON(time.Now())
	many := make([][]byte, 0, size/len(ev))
	now := time.Now()
	for len(many)*(len(ev)+1) < size-1024 {
		many = append(many, Event{}.JSON(now))
	}
	empties := strings.Repeat("{},", (size-400)/3)
	deep := strings.Repeat(`{"a":[`, (size-400)/12) + strings.Repeat("]}", (size-400)/12)
	huge := strings.Repeat("x", size-2048)
	return []Hostile{
		{"many-watched-events", Delivery(many...)},
		{"millions-of-empty-objects", Delivery([]byte(strings.TrimSuffix(empties, ",")))},
		{"deep-nesting", Delivery([]byte(`{"uuid":"` + UUID() + `","eventType":"x","published":"2026-11-20T14:00:00Z","deep":` + deep + `}`))},
		{"huge-string", Delivery([]byte(`{"uuid":"` + UUID() + `","eventType":"x","published":"2026-11-20T14:00:00Z","s":"` + huge + `"}`))},
		{"huge-display-name", Delivery(Event{DisplayName: huge}.JSON(now))},
	}
}

const eventTemplate = `{"uuid":%q,"published":%q,"eventType":%q,"version":"0","severity":"INFO",
"legacyEventType":null,"displayMessage":"Add Workflows role to user",
"actor":{"id":%q,"type":"User","alternateId":"alice.admin@acme.example","displayName":"Alice Admin","detailEntry":null},
"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15","os":"Mac OS X","browser":"SAFARI"},
"zone":"null","device":"Computer","id":null,"ipAddress":"198.51.100.23","geographicalContext":{"city":"Denver","state":"Colorado","country":"United States","postalCode":"80202","geolocation":{"lat":39.7392,"lon":-104.9847}}},
"device":null,"authenticationContext":{"authenticationProvider":null,"credentialProvider":null,"credentialType":null,"issuer":null,"interface":null,"authenticationStep":0,"externalSessionId":"102abc"},
"outcome":{"result":"SUCCESS","reason":null},
"target":[{"id":%q,"type":"User","alternateId":"bob.builder@acme.example","displayName":%s,"detailEntry":null},
{"id":"wfr1","type":"WorkflowsRole","alternateId":%s,"displayName":%s,"detailEntry":null}],
"transaction":{"type":"WEB","id":%q,"detail":{}},
"debugContext":{"debugData":{"requestId":"reqload","requestUri":"/api/v1/internal","url":"/api/v1/internal?"}},
"securityContext":{"asNumber":64496,"asOrg":"example transit","isp":"example isp inc.","domain":"example.net","isProxy":false},
"request":{"ipChain":[{"ip":"198.51.100.23","geographicalContext":{"city":"Denver","state":"Colorado","country":"United States","postalCode":"80202","geolocation":{"lat":39.7392,"lon":-104.9847}},"version":"V4","source":null}]}}`

// Stranger is one body of the corpus of what an attack on hookd's readers sends: strings
// that steer a terminal, forge Slack formatting or break a strict JSON reader, and keys given
// twice so that two readers could disagree on what the body says.
type Stranger struct {
	Name string
	Body []byte
	// Status is the answer hookd must give; Watched is how many of its events it must alert.
	Status  int
	Watched int
}

// StrangerCorpus returns the corpus, each body a delivery of fresh events.
func StrangerCorpus() []Stranger {
	now := time.Now()
	invalid := bytes.Replace(Event{DisplayName: "INVALID-UTF8"}.JSON(now), []byte("INVALID-UTF8"), []byte("Bob \xff\xfe\xc3 Builder"), 1)
	twice := Event{}.JSON(now)
	twice = bytes.Replace(twice, []byte(`{"uuid":`), []byte(`{"uuid":"`+UUID()+`","uuid":`), 1)
	envelope := Delivery(Event{}.JSON(now))
	envelope = bytes.Replace(envelope, []byte(`"data":{`), []byte(`"data":{"events":[`+string(Event{}.JSON(now))+`]},"data":{`), 1)
	return []Stranger{
		{"terminal-escapes", Delivery(Event{DisplayName: "Bob\x1b]0;pwned\x07\x1b[2J\b\b\bBuilder\u009b31m\u202e"}.JSON(now)), 200, 1},
		{"slack-mrkdwn", Delivery(Event{DisplayName: "Bob\n*Actor*\nTrusted Admin _it_ ~strike~ `code` ```block``` > quote <!channel> <http://evil.example|ok> @here"}.JSON(now)), 200, 1},
		{"invalid-utf8", Delivery(invalid), 200, 1},
		{"duplicate-event-uuid", Delivery(twice), 400, 0},
		{"duplicate-envelope-data", envelope, 400, 0},
	}
}
