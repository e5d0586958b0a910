package hook

import (
	"errors"
	"strings"
	"testing"

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
	rc, ok := c.Classify(b.Events[0], "", SourceHook)
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
