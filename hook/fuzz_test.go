package hook

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// FuzzDecode feeds arbitrary bodies to the decoder: it must never panic, and a body that
// decodes must, once its events are re-encoded from the wire types, decode to the same records.
func FuzzDecode(f *testing.F) {
	for _, file := range payloadFiles(f) {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + goodEvent + `]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"a","UUID":"b","eventType":"group.privilege.grant","published":"2026-11-20T14:00:00Z","debugContext":{"debugData":{"privilegeGranted":["x",1]}}}]}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	// Keys that decide what is kept, said twice: refused.
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + dupEvent("A") + `]},"data":{"events":[` + dupEvent("B") + `]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + dupEvent("A") + `],"events":[` + dupEvent("B") + `]}}`))
	f.Add([]byte(`{"eventType":"x","source":"https://a.okta.com","eventType":"com.okta.event_hook","source":"https://b.example","data":{"events":[` + goodEvent + `]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"A","eventType":"group.privilege.grant","published":"2026-11-20T14:00:00Z","uuid":"B","eventType":"user.session.start","published":null}]}}`))
	// Strings that are not UTF-8, as bytes and as escapes of lone surrogates.
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + badStringsEvent("\xff") + `,` + badStringsEvent("\xed\xa0\x80") + `]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + badStringsEvent(`\ud800`) + `]}}`))

	var c Classifier
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := DecodeBytes(body)
		// The walk must accept exactly the JSON that encoding/json accepts.
		if malformed := errors.Is(err, ErrMalformed); malformed == json.Valid(body) {
			t.Fatalf("json.Valid=%v but decode error=%v", json.Valid(body), err)
		}
		if err != nil {
			if b != nil {
				t.Fatal("a refused body returned a batch")
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkOnce(t, body, envelopeKeyNames...)
		var env struct{ Data json.RawMessage }
		if json.Unmarshal(body, &env) == nil {
			checkOnce(t, env.Data, "events")
		}
		for _, ev := range b.Events {
			checkOnce(t, ev.Raw, headKeyNames...)
		}
		first, _ := c.RoleChanges(b, hookd.SourceHook)
		checkUTF8(t, first)

		reencoded := make([]json.RawMessage, 0, len(b.Events))
		for _, ev := range b.Events {
			le, problem := ev.LogEvent()
			if problem != nil {
				return // a field of a surprising type was skipped; the round trip cannot hold
			}
			raw, err := json.Marshal(le)
			if err != nil {
				t.Fatalf("re-encode %s: %v", ev.UUID, err)
			}
			reencoded = append(reencoded, raw)
		}
		if len(reencoded) == 0 {
			return
		}
		again, err := json.Marshal(Envelope{EventType: EnvelopeEventType, Source: b.Envelope.Source, Data: &HookData{Events: reencoded}})
		if err != nil {
			t.Fatal(err)
		}
		b2, err := DecodeBytes(again)
		if err != nil {
			t.Fatalf("re-encoded body refused: %v", err)
		}
		if len(b2.Rejected) != 0 {
			t.Fatalf("re-encoded events rejected: %v", b2.Rejected)
		}
		second, _ := c.RoleChanges(b2, hookd.SourceHook)
		if len(first) != len(second) {
			t.Fatalf("records: %d, after round trip %d", len(first), len(second))
		}
		for i := range first {
			a, z := first[i], second[i]
			a.Raw, z.Raw = nil, nil
			// Re-encoding wrote the strings' U+FFFD where the body had bytes that are not
			// UTF-8, so only the first raw event may have needed mending.
			a.Incomplete, z.Incomplete = withoutRawNote(a.Incomplete), withoutRawNote(z.Incomplete)
			ja, _ := json.Marshal(a)
			jz, _ := json.Marshal(z)
			if string(ja) != string(jz) {
				t.Fatalf("record %d changed in the round trip:\n%s\n%s", i, ja, jz)
			}
			if !strings.HasPrefix(string(first[i].Raw), "{") {
				t.Fatalf("record %d raw is not an object", i)
			}
		}
	})
}

// FuzzDecodeEvents feeds arbitrary System Log answers to DecodeEvents: it must never panic,
// must refuse exactly the bodies that are not JSON, and must account for every element.
func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`[` + goodEvent + `]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"uuid":"a"}, 7, null, "x"]`))
	f.Add([]byte(`{"errorCode":"E0000047"}`))
	f.Add([]byte(`[` + goodEvent + `,{"uuid":"\ud800","eventType":"workflows.user.role.user.add","published":"2026-11-20T14:00:00Z","target":[{"type":"User"}]}]`))
	f.Add([]byte(`[` + goodEvent + `,{"uuid":"A","eventType":"x","published":"2026-11-20T14:00:00Z","uuid":"B"},{"eventType":"x","eventType":"y"},{"published":null,"published":"x","uuid":7}]`))
	f.Add([]byte(`[` + badStringsEvent("\xff") + `,` + badStringsEvent(`\udc00`) + `]`))
	var c Classifier
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := DecodeEvents(strings.NewReader(string(body)))
		if malformed := errors.Is(err, ErrMalformed); malformed == json.Valid(body) {
			t.Fatalf("json.Valid=%v but decode error=%v", json.Valid(body), err)
		}
		if err != nil {
			return
		}
		var all []json.RawMessage
		if json.Unmarshal(body, &all) != nil {
			t.Fatal("decoded a body that is not an array")
		}
		if len(b.Events)+len(b.Rejected) != len(all) {
			t.Fatalf("%d elements, %d events + %d rejected", len(all), len(b.Events), len(b.Rejected))
		}
		for _, ev := range b.Events {
			checkOnce(t, ev.Raw, headKeyNames...)
		}
		changes, notWatched := c.RoleChanges(b, hookd.SourceSystemLog)
		if len(changes)+notWatched != len(b.Events) {
			t.Fatal("an event was neither a record nor counted as not watched")
		}
		checkUTF8(t, changes)
	})
}

var (
	envelopeKeyNames = []string{"eventType", "eventTypeVersion", "cloudEventsVersion", "contentType", "eventId", "eventTime", "source", "data"}
	headKeyNames     = []string{"uuid", "eventType", "published"}
)

// checkOnce fails if one of keys appears more than once in the JSON object raw (not counting
// the objects inside it): the decoders must have refused it, as readers disagree on its value.
func checkOnce(t *testing.T, raw []byte, keys ...string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		key, _ := tok.(string)
		if seen[key] && slices.Contains(keys, key) {
			t.Fatalf("%q appears twice in an accepted %.200q", key, raw)
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return
		}
	}
}

// checkUTF8 fails unless every string of the records, and every raw event, is valid UTF-8
// (and the raw event JSON): the store, the console and the sinks pass them on as they are.
func checkUTF8(t *testing.T, records []hookd.RoleChange) {
	t.Helper()
	for i, rc := range records {
		if !utf8.Valid(rc.Raw) || !json.Valid(rc.Raw) {
			t.Fatalf("record %d: raw is not valid UTF-8 JSON: %q", i, rc.Raw)
		}
		for _, s := range stringsOf(reflect.ValueOf(rc), "RoleChange") {
			if !utf8.ValidString(s.value) {
				t.Fatalf("record %d: %s is not valid UTF-8: %q", i, s.path, s.value)
			}
		}
	}
}

// withoutRawNote returns notes without the one that says the raw event was mended.
func withoutRawNote(notes []string) []string {
	var out []string
	for _, n := range notes {
		if !strings.HasPrefix(n, "raw: invalid UTF-8") {
			out = append(out, n)
		}
	}
	return out
}
