package hook

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodEvent = `{"uuid":"u1","eventType":"user.session.start","published":"2026-11-20T14:00:00.123Z"}`

func TestDecodeRefusesBodiesThatAreNotDeliveries(t *testing.T) {
	tests := []struct {
		name string
		body string
		kind error
		want string
	}{
		{"empty body", ``, ErrMalformed, "unexpected end of JSON input"},
		{"truncated", `{"eventType":"com.okta.event_hook","data":{"events":[` + goodEvent, ErrMalformed, "unexpected end of JSON input"},
		{"not JSON", `hello`, ErrMalformed, "invalid character"},
		{"NUL after the envelope", `{"eventType":"com.okta.event_hook","data":{"events":[` + goodEvent + `]}}` + "\x00", ErrMalformed, `invalid character '\x00' after top-level value`},
		{"array, not envelope", `[` + goodEvent + `]`, ErrNotDelivery, ": must be an object, got array"},
		{"wrong envelope type", `{"eventType":"x","data":{"events":[` + goodEvent + `]}}`, ErrNotDelivery, `eventType: must be "com.okta.event_hook", got "x"`},
		{"no envelope type", `{"data":{"events":[` + goodEvent + `]}}`, ErrNotDelivery, `eventType: must be "com.okta.event_hook", got ""`},
		{"no data", `{"eventType":"com.okta.event_hook"}`, ErrNotDelivery, "data: required"},
		{"null data", `{"eventType":"com.okta.event_hook","data":null}`, ErrNotDelivery, "data: required"},
		{"no events", `{"eventType":"com.okta.event_hook","data":{}}`, ErrNotDelivery, "data.events: required"},
		{"events not array", `{"eventType":"com.okta.event_hook","data":{"events":{"a":1}}}`, ErrNotDelivery, "data.events: must be an array, got object"},
		{"events a string", `{"eventType":"com.okta.event_hook","data":{"events":"x"}}`, ErrNotDelivery, "data.events: must be an array, got string"},
		{"zero events", `{"eventType":"com.okta.event_hook","data":{"events":[]}}`, ErrNotDelivery, "data.events: must contain at least 1 element(s)"},
		{"huge wrong type is clipped", `{"eventType":"` + strings.Repeat("A", 5000) + `","data":{"events":[` + goodEvent + `]}}`, ErrNotDelivery, `got "AAAA`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeBytes([]byte(tt.body))
			require.Error(t, err)
			assert.Nil(t, b)
			assert.True(t, errors.Is(err, tt.kind), "kind: %v", err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Less(t, len(err.Error()), 300, "errors stay short whatever the input")
		})
	}
}

func TestDecodeRejectsBadEventsAndKeepsTheRest(t *testing.T) {
	body := `{"eventType":"com.okta.event_hook","source":"https://acme.okta.com/api/v1/eventHooks/who1","data":{"events":[` +
		goodEvent + `,` +
		`{"eventType":"user.session.start","published":"2026-11-20T14:00:00Z"},` +
		`{"uuid":"u3","published":"2026-11-20T14:00:00Z"},` +
		`{"uuid":"u4","eventType":"x"},` +
		`{"uuid":"u5","eventType":"x","published":"last tuesday"},` +
		`{"uuid":"u6","eventType":"x","published":"2026-11-20"},` +
		`"a string",` + `null,` + `7,` +
		`{"uuid":7,"eventType":"x","published":"2026-11-20T14:00:00Z"},` +
		`{"uuid":"` + strings.Repeat("u", 300) + `","eventType":"x","published":"2026-11-20T14:00:00Z"},` +
		`{"uuid":null,"eventType":null,"published":null},` +
		`{"uuid":"u13","eventType":"x","published":"2026-11-20T14:00:00+02:00","extra":{"deep":[1,2]}}` +
		`]}}`
	b, err := DecodeBytes([]byte(body))
	require.NoError(t, err)
	assert.Equal(t, "https://acme.okta.com", b.Org)

	require.Len(t, b.Events, 2)
	assert.Equal(t, "u1", b.Events[0].UUID)
	assert.Equal(t, 0, b.Events[0].Index)
	assert.Equal(t, "u13", b.Events[1].UUID)
	assert.Equal(t, 12, b.Events[1].Index)
	assert.Equal(t, 12, b.Events[1].Published.UTC().Hour())

	got := map[int]string{}
	for _, r := range b.Rejected {
		got[r.Index] = r.Error()
	}
	assert.Equal(t, map[int]string{
		1:  "data.events[1].uuid: required",
		2:  "data.events[2].eventType: required",
		3:  "data.events[3].published: required",
		4:  "data.events[4].published: not an RFC 3339 time",
		5:  "data.events[5].published: not an RFC 3339 time",
		6:  "data.events[6]: must be an object, got string",
		7:  "data.events[7]: must be an object, got null",
		8:  "data.events[8]: must be an object, got number",
		9:  "data.events[9].uuid: must be a string, got number",
		10: "data.events[10].uuid: longer than 256 characters",
		11: "data.events[11].uuid: required; data.events[11].eventType: required; data.events[11].published: required",
	}, got)
}

func TestDecodeEventsReadsSystemLogArrays(t *testing.T) {
	b, err := DecodeEvents(strings.NewReader(`[` + goodEvent + `,{"uuid":"u2"}]`))
	require.NoError(t, err)
	require.Len(t, b.Events, 1)
	require.Len(t, b.Rejected, 1)
	assert.Equal(t, "[1].eventType: required; [1].published: required", b.Rejected[0].Error())
	assert.Empty(t, b.Org)

	_, err = DecodeEvents(strings.NewReader(`{"errorCode":"E0000011"}`))
	assert.ErrorIs(t, err, ErrNotDelivery)
	assert.Contains(t, err.Error(), "must be an array, got object")
}

func TestLogEventKeepsAnEventWhoseFieldChangedType(t *testing.T) {
	raw := `{"uuid":"u1","eventType":"workflows.user.role.user.add","published":"2026-11-20T14:00:00Z",` +
		`"actor":{"id":"00u1","type":"User","alternateId":"a@x","displayName":"A"},` +
		`"client":{"ipAddress":"192.0.2.1","geographicalContext":{"postalCode":80202}},` +
		`"target":[{"id":"00u2","type":"User","displayName":"B"},{"id":"r1","type":"WorkflowsRole","displayName":"Folder Editor"}]}`
	b, err := DecodeBytes([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + raw + `]}}`))
	require.NoError(t, err)
	require.Len(t, b.Events, 1)

	var c Classifier
	rc, ok := c.Classify(b.Events[0], "", hookd.SourceHook)
	require.True(t, ok, "a watched event is never dropped")
	assert.Equal(t, "B", rc.Subject.DisplayName)
	assert.Equal(t, []string{"Folder Editor"}, rc.RoleNames())
	assert.Equal(t, "192.0.2.1", rc.Client.IP)
	assert.Equal(t, []string{"decode: client.geographicalContext.postalCode: must be a string, got number"}, rc.Incomplete)
	assert.JSONEq(t, raw, string(rc.Raw))
}

func TestOrgOf(t *testing.T) {
	for source, want := range map[string]string{
		"https://acme.okta.com/api/v1/eventHooks/who1": "https://acme.okta.com",
		"https://acme.oktapreview.com":                 "https://acme.oktapreview.com",
		"":                                             "",
		"not a url":                                    "",
		"ftp://acme.okta.com/x":                        "",
		"javascript:alert(1)":                          "",
	} {
		assert.Equal(t, want, orgOf(source), source)
	}
}

// dupEvent is goodEvent with its uuid changed, so that which event was kept can be told.
func dupEvent(uuid string) string {
	return strings.Replace(goodEvent, `"u1"`, `"`+uuid+`"`, 1)
}

// TestDecodeRefusesDuplicateKeys: a key that decides what hookd keeps, said twice, is
// ambiguous (encoding/json takes the last, other readers the first), so the body is refused
// rather than one of the two readings chosen silently.
func TestDecodeRefusesDuplicateKeys(t *testing.T) {
	const (
		open   = `{"eventType":"com.okta.event_hook",`
		events = `"data":{"events":[` + goodEvent + `]}`
	)
	const pub = `"published":"2026-11-20T14:00:00Z"`
	tests := []struct {
		name string
		body string
		want FieldError
	}{
		{"data twice", open + `"data":{"events":[` + dupEvent("A") + `]},"data":{"events":[` + dupEvent("B") + `]}}`, FieldError{Field: "data", Reason: "appears twice"}},
		{"data twice, the first null", open + `"data":null,` + events + `}`, FieldError{Field: "data", Reason: "appears twice"}},
		{"events twice", open + `"data":{"events":[` + dupEvent("A") + `],"x":1,"events":[` + dupEvent("B") + `]}}`, FieldError{Field: "data.events", Reason: "appears twice"}},
		{"events twice, the second empty", open + `"data":{"events":[` + goodEvent + `],"events":[]}}`, FieldError{Field: "data.events", Reason: "appears twice"}},
		{"envelope eventType, wrong then right", `{"eventType":"com.okta.inline_hook","eventType":"com.okta.event_hook",` + events + `}`, FieldError{Field: "eventType", Reason: "appears twice"}},
		{"eventTypeVersion", open + `"eventTypeVersion":"1.0","eventTypeVersion":"2.0",` + events + `}`, FieldError{Field: "eventTypeVersion", Reason: "appears twice"}},
		{"cloudEventsVersion", open + `"cloudEventsVersion":"0.1",` + events + `,"cloudEventsVersion":null}`, FieldError{Field: "cloudEventsVersion", Reason: "appears twice"}},
		{"contentType", open + `"contentType":"application/json","contentType":"text/plain",` + events + `}`, FieldError{Field: "contentType", Reason: "appears twice"}},
		{"eventId", open + `"eventId":"e1","eventId":"e2",` + events + `}`, FieldError{Field: "eventId", Reason: "appears twice"}},
		{"eventTime", open + `"eventTime":"2026-11-20T14:00:00Z","eventTime":"2026-11-21T14:00:00Z",` + events + `}`, FieldError{Field: "eventTime", Reason: "appears twice"}},
		{"source", open + `"source":"https://acme.okta.com/x","source":"https://evil.example/x",` + events + `}`, FieldError{Field: "source", Reason: "appears twice"}},
		{"event uuid", open + `"data":{"events":[` + dupEvent("u0") + `,` + dupEvent("u1") + `,` + dupEvent("u2") + `,{"uuid":"A","eventType":"user.session.start",` + pub + `,"uuid":"B"}]}}`,
			FieldError{Field: "data.events[3].uuid", Reason: "appears twice"}},
		{"event uuid, the second escaped", open + `"data":{"events":[{"uuid":"A","eventType":"user.session.start",` + pub + `,"\u0075uid":"B"}]}}`,
			FieldError{Field: "data.events[0].uuid", Reason: "appears twice"}},
		{"escaped data", open + events + `,"d\u0061ta":{"events":[` + goodEvent + `]}}`, FieldError{Field: "data", Reason: "appears twice"}},
		{"event uuid, the first null", open + `"data":{"events":[{"uuid":null,"eventType":"user.session.start",` + pub + `,"uuid":"B"}]}}`,
			FieldError{Field: "data.events[0].uuid", Reason: "appears twice"}},
		{"event eventType", open + `"data":{"events":[{"uuid":"A","eventType":"user.session.start",` + pub + `,"eventType":"group.privilege.grant"}]}}`,
			FieldError{Field: "data.events[0].eventType", Reason: "appears twice"}},
		{"event published", open + `"data":{"events":[` + goodEvent + `,{"uuid":"A","eventType":"user.session.start",` + pub + `,"published":"2027-01-01T00:00:00Z"}]}}`,
			FieldError{Field: "data.events[1].published", Reason: "appears twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeBytes([]byte(tt.body))
			require.Error(t, err)
			assert.Nil(t, b)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.ErrorIs(t, err, ErrNotDelivery)
			assert.Equal(t, []FieldError{tt.want}, de.Fields)
		})
	}
}

// TestDecodeKeepsKeysItDoesNotDecideOn: keys said twice that hookd does not read at this
// stage (unknown keys, the rest of an event) and keys that only differ in case are left to
// the full decode, as they were.
func TestDecodeKeepsKeysItDoesNotDecideOn(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"unknown envelope key twice", `{"eventType":"com.okta.event_hook","x":1,"x":2,"data":{"events":[` + goodEvent + `]}}`},
		{"unknown data key twice", `{"eventType":"com.okta.event_hook","data":{"x":1,"events":[` + goodEvent + `],"x":2}}`},
		{"other event key twice", `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"u1","severity":"INFO","eventType":"x","severity":"WARN","published":"2026-11-20T14:00:00Z"}]}}`},
		{"an envelope key in another case", `{"eventType":"com.okta.event_hook","EventType":"x","data":{"events":[{"uuid":"u1","eventType":"x","published":"2026-11-20T14:00:00Z"}]}}`},
		{"head keys in two events", `{"eventType":"com.okta.event_hook","data":{"events":[` + goodEvent + `,` + dupEvent("u2") + `]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeBytes([]byte(tt.body))
			require.NoError(t, err)
			assert.Empty(t, b.Rejected)
			assert.Equal(t, "u1", b.Events[0].UUID)
		})
	}
}

// TestDecodeEventsRejectsAnEventWithADuplicateHeadKey: in a System Log page, the ambiguous
// event is rejected on its own, so that it cannot stop the poller at that page for good.
func TestDecodeEventsRejectsAnEventWithADuplicateHeadKey(t *testing.T) {
	tests := []struct {
		name      string
		event     string
		want      string
		uuid      string
		eventType string
	}{
		{"uuid", `{"uuid":"A","eventType":"user.session.start","published":"2026-11-20T14:00:00Z","uuid":"B"}`, "[1].uuid: appears twice", "", "user.session.start"},
		{"eventType", `{"uuid":"A","eventType":"user.session.start","eventType":"group.privilege.grant","published":"2026-11-20T14:00:00Z"}`, "[1].eventType: appears twice", "A", ""},
		{"published", `{"published":"2026-11-20T14:00:00Z","uuid":"A","eventType":"user.session.start","published":"2027-01-01T00:00:00Z"}`, "[1].published: appears twice", "A", "user.session.start"},
		{"uuid three times", `{"uuid":"A","uuid":"B","uuid":"C","eventType":"user.session.start","published":"2026-11-20T14:00:00Z"}`, "[1].uuid: appears twice", "", "user.session.start"},
		{"uuid twice, and eventType not a string", `{"uuid":"A","uuid":"B","eventType":7,"published":"2026-11-20T14:00:00Z"}`, "[1].uuid: appears twice; [1].eventType: must be a string, got number", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeEvents(strings.NewReader(`[` + dupEvent("u0") + `,` + tt.event + `,` + dupEvent("u2") + `]`))
			require.NoError(t, err)
			require.Len(t, b.Events, 2)
			assert.Equal(t, "u0", b.Events[0].UUID)
			assert.Equal(t, "u2", b.Events[1].UUID)
			require.Len(t, b.Rejected, 1)
			r := b.Rejected[0]
			assert.Equal(t, 1, r.Index)
			assert.Equal(t, tt.want, r.Error())
			assert.Equal(t, tt.uuid, r.UUID, "a uuid said twice is neither of them")
			assert.Equal(t, tt.eventType, r.EventType)
		})
	}
}

// A reader matching keys without regard to case takes "UUID" for "uuid": an event with both
// could be read two ways, so it is refused like one with "uuid" twice.
func TestDecodeRefusesAHeadKeyInAnotherCase(t *testing.T) {
	for _, body := range []string{
		`{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"u1","UUID":"u2","eventType":"x","published":"2026-11-20T14:00:00Z"}]}}`,
		`{"eventType":"com.okta.event_hook","data":{"events":[{"EVENTTYPE":"y","uuid":"u1","eventType":"x","published":"2026-11-20T14:00:00Z"}]}}`,
	} {
		_, err := DecodeBytes([]byte(body))
		var de *DecodeError
		require.ErrorAs(t, err, &de, body)
		assert.ErrorIs(t, err, ErrNotDelivery)
		assert.Contains(t, err.Error(), "appears twice")
	}
}
