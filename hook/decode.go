package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// ErrMalformed marks a body that is not valid JSON; nothing in it can be used.
var ErrMalformed = errors.New("malformed JSON")

// ErrNotDelivery marks valid JSON that is not an Okta event-hook delivery (or, for
// DecodeEvents, not an array of System Log events).
var ErrNotDelivery = errors.New("not an Okta event-hook delivery")

// FieldError says which field of the input is wrong and why, e.g. "data.events[3].uuid: required".
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// DecodeError is returned when a whole body is refused. It unwraps to ErrMalformed or
// ErrNotDelivery so callers can branch on the kind.
type DecodeError struct {
	Kind   error
	Fields []FieldError
}

func (e *DecodeError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return e.Kind.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap returns the kind of the error.
func (e *DecodeError) Unwrap() error { return e.Kind }

// Event is one event of a batch that passed the checks hookd relies on: it has a uuid, an
// event type and a published time. The rest is decoded only when needed, by LogEvent.
type Event struct {
	Index     int
	UUID      string
	EventType string
	Published time.Time
	Raw       json.RawMessage
}

// Rejection is an event of a batch that failed the checks; the others are kept.
type Rejection struct {
	Index     int          `json:"index"`
	UUID      string       `json:"uuid,omitempty"`
	EventType string       `json:"eventType,omitempty"`
	Problems  []FieldError `json:"problems"`
}

func (r Rejection) Error() string {
	parts := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

// Batch is a decoded body: the events that can be used and the ones rejected.
type Batch struct {
	// Envelope is set for hook deliveries; its Data is cleared once the events are split out.
	Envelope *Envelope
	// Org is the Okta org URL taken from the envelope's source, when it has one.
	Org      string
	Events   []Event
	Rejected []Rejection
}

// eventHead is the part of every event hookd relies on, checked before anything else.
type eventHead struct {
	UUID      string `json:"uuid" validate:"required,max=256"`
	EventType string `json:"eventType" validate:"required,max=256"`
	Published string `json:"published" validate:"required,datetime=2006-01-02T15:04:05Z07:00"`
}

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

func validatorInstance() *validator.Validate {
	validateOnce.Do(func() {
		validate = validator.New(validator.WithRequiredStructEnabled())
		validate.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			return name
		})
	})
	return validate
}

// Decode reads an Okta event-hook delivery. It refuses the whole body (a *DecodeError) only
// when the body is not JSON or not a delivery envelope; an event that lacks what hookd relies
// on is listed in Batch.Rejected and the other events are kept.
func Decode(r io.Reader) (*Batch, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return DecodeBytes(body)
}

// DecodeBytes is Decode for a body already in memory. The batch keeps its own copy of each
// event, so body may be reused afterwards.
func DecodeBytes(body []byte) (*Batch, error) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, jsonError(err, "")
	}
	if err := validatorInstance().Struct(&env); err != nil {
		return nil, &DecodeError{Kind: ErrNotDelivery, Fields: fieldErrors(err, "")}
	}
	b := &Batch{Envelope: &env, Org: orgOf(env.Source)}
	b.split(env.Data.Events, "data.events")
	env.Data = nil
	return b, nil
}

// DecodeEvents reads a JSON array of System Log events, as /api/v1/logs returns them.
func DecodeEvents(r io.Reader) (*Batch, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	var events []json.RawMessage
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, jsonError(err, "")
	}
	b := &Batch{}
	b.split(events, "")
	return b, nil
}

// split checks each raw event and sorts it into Events or Rejected.
func (b *Batch) split(raws []json.RawMessage, path string) {
	b.Events = make([]Event, 0, len(raws))
	for i, raw := range raws {
		at := path + "[" + strconv.Itoa(i) + "]"
		ev, problems := checkEvent(raw, at)
		if problems != nil {
			b.Rejected = append(b.Rejected, Rejection{Index: i, UUID: ev.UUID, EventType: ev.EventType, Problems: problems})
			continue
		}
		ev.Index = i
		b.Events = append(b.Events, ev)
	}
}

func checkEvent(raw json.RawMessage, at string) (Event, []FieldError) {
	if len(raw) == 0 || raw[0] != '{' {
		return Event{}, []FieldError{{Field: at, Reason: "must be an object, got " + jsonKind(raw)}}
	}
	var head eventHead
	if err := json.Unmarshal(raw, &head); err != nil {
		var de *DecodeError
		if errors.As(jsonError(err, at), &de) {
			return Event{}, de.Fields
		}
		return Event{}, []FieldError{{Field: at, Reason: err.Error()}}
	}
	ev := Event{UUID: head.UUID, EventType: head.EventType, Raw: raw}
	if err := validatorInstance().Struct(&head); err != nil {
		return ev, fieldErrors(err, at)
	}
	published, err := time.Parse(time.RFC3339Nano, head.Published)
	if err != nil {
		return ev, []FieldError{{Field: at + ".published", Reason: "not an RFC 3339 time"}}
	}
	ev.Published = published
	return ev, nil
}

// LogEvent decodes the whole event. Okta may change a field's type without notice, so a value
// of a surprising type does not lose the event: the rest is decoded and the problem returned.
func (e Event) LogEvent() (LogEvent, *FieldError) {
	var le LogEvent
	err := json.Unmarshal(e.Raw, &le)
	if err == nil {
		return le, nil
	}
	// The head check passed, so the event is a JSON object with a valid uuid, type and time;
	// what is left is a value of another type than documented, and the rest is decoded.
	fe := FieldError{Reason: err.Error()}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		fe = FieldError{Field: te.Field, Reason: "expected " + te.Type.String() + ", got " + te.Value}
	}
	le.UUID, le.EventType, le.Published = e.UUID, e.EventType, e.Published
	return le, &fe
}

// jsonError turns an encoding/json error into a *DecodeError naming the place it happened.
func jsonError(err error, at string) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &DecodeError{Kind: ErrMalformed, Fields: []FieldError{{Field: at, Reason: fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)}}}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if at != "" && field != "" {
			field = at + "." + field
		} else if field == "" {
			field = at
		}
		return &DecodeError{Kind: ErrNotDelivery, Fields: []FieldError{{Field: field, Reason: "must be " + jsonTypeName(te.Type) + ", got " + te.Value}}}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input") {
		return &DecodeError{Kind: ErrMalformed, Fields: []FieldError{{Field: at, Reason: "unexpected end of JSON input"}}}
	}
	return &DecodeError{Kind: ErrMalformed, Fields: []FieldError{{Field: at, Reason: err.Error()}}}
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t == reflect.TypeOf(json.RawMessage{}) {
			return "a JSON value"
		}
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	default:
		return "a number"
	}
}

func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '[':
		return "array"
	case '"':
		return "string"
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}

// fieldErrors turns validator errors into FieldErrors with JSON paths under at.
func fieldErrors(err error, at string) []FieldError {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return []FieldError{{Field: at, Reason: err.Error()}}
	}
	out := make([]FieldError, 0, len(ves))
	for _, fe := range ves {
		// Namespace is "Envelope.data.events" or "eventHead.uuid": drop the type name.
		ns := fe.Namespace()
		if _, rest, ok := strings.Cut(ns, "."); ok {
			ns = rest
		}
		if at != "" {
			ns = at + "." + ns
		}
		out = append(out, FieldError{Field: ns, Reason: reasonOf(fe)})
	}
	return out
}

func reasonOf(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "eq":
		return fmt.Sprintf("must be %q, got %q", fe.Param(), clip(fmt.Sprint(fe.Value()), 64))
	case "min":
		return "must contain at least " + fe.Param() + " element(s)"
	case "max":
		return "longer than " + fe.Param() + " characters"
	case "datetime":
		return "not an RFC 3339 time"
	default:
		return "fails " + fe.Tag()
	}
}

// orgOf returns "https://host" from an envelope source such as
// "https://example.okta.com/api/v1/eventHooks/who8v8...".
func orgOf(source string) string {
	if source == "" {
		return ""
	}
	u, err := url.Parse(source)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// clip shortens s to at most n bytes (on a rune boundary), so an error never echoes a huge value.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
