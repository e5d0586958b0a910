package hook

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
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

	var c Classifier
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := DecodeBytes(body)
		// The hand-written reader must accept exactly the JSON that encoding/json accepts.
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
		first, _ := c.RoleChanges(b, SourceHook)

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
		second, _ := c.RoleChanges(b2, SourceHook)
		if len(first) != len(second) {
			t.Fatalf("records: %d, after round trip %d", len(first), len(second))
		}
		for i := range first {
			a, z := first[i], second[i]
			a.Raw, z.Raw = nil, nil
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
		changes, notWatched := c.RoleChanges(b, SourceSystemLog)
		if len(changes)+notWatched != len(b.Events) {
			t.Fatal("an event was neither a record nor counted as not watched")
		}
	})
}
