package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/jsonscan"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/go-playground/validator/v10"
)

// ErrMalformed marks a body that is not valid JSON; nothing in it can be used.
var ErrMalformed = errors.New("malformed JSON")

// ErrTooManyEvents marks a delivery with more events than the receiver takes in one body.
// Okta batches far fewer; a body past the cap is refused whole before its events are kept.
var ErrTooManyEvents = errors.New("too many events in one delivery")

// ErrNotDelivery marks valid JSON that is not an Okta event-hook delivery (or, for
// DecodeEvents, not an array of System Log events).
var ErrNotDelivery = errors.New("not an Okta event-hook delivery")

// FieldError says which field of the input is wrong and why, e.g. "data.events[3].uuid: required".
type FieldError = jsonscan.FieldError

// DecodeError is returned when a whole body is refused. It unwraps to ErrMalformed or
// ErrNotDelivery so callers can branch on the kind.
type DecodeError struct {
	Kind   error
	Fields []FieldError
}

// Error returns the kind and every field problem.
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

// Error returns the event's problems, joined.
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
	Published string `json:"published" validate:"required"`
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

// DecodeBytes is Decode for a body already in memory. The batch's raw events are slices of
// body, so the caller must not change body while the batch or its records are in use.
func DecodeBytes(body []byte) (*Batch, error) { return DecodeLimited(body, 0) }

// DecodeLimited is DecodeBytes that refuses, with ErrTooManyEvents, a delivery of more than
// maxEvents events (0: no cap). It stops reading at the first event past the cap, so a body
// of millions of tiny events costs no more than the cap's worth of work.
//
// The reader works on body's bytes in place (no copy): the batch's strings share body's
// memory, which is why body must not change while they are in use.
func DecodeLimited(body []byte, maxEvents int) (*Batch, error) {
	r := jsonscan.New(unsafe.String(unsafe.SliceData(body), len(body)))
	tooMany := false
	var env Envelope
	b := &Batch{Envelope: &env}
	head := new(eventHead)
	// twice is the first key that decides what hookd keeps found twice in the body; it
	// refuses the body once the rest is known to be JSON.
	var twice *FieldError
	sayTwice := func(field string) {
		if twice == nil {
			twice = &FieldError{Field: field, Reason: reasonTwice}
		}
		r.Value()
	}
	var seen envelopeKeys
	r.Obj("", func(key string) {
		k := envelopeKeyOf(key)
		if k != 0 && seen&k != 0 {
			sayTwice(key)
			return
		}
		seen |= k
		switch k {
		case keyEventType:
			r.Text(&env.EventType, "eventType")
		case keyEventTypeVersion:
			r.Text(&env.EventTypeVersion, "eventTypeVersion")
		case keyCloudEventsVersion:
			r.Text(&env.CloudEventsVersion, "cloudEventsVersion")
		case keyContentType:
			r.Text(&env.ContentType, "contentType")
		case keyEventID:
			r.Text(&env.EventID, "eventId")
		case keyEventTime:
			r.Text(&env.EventTime, "eventTime")
		case keySource:
			r.Text(&env.Source, "source")
		case keyData:
			data := &HookData{}
			seenEvents := false
			if r.Obj("data", func(key string) {
				if key != "events" {
					r.Value()
					return
				}
				if seenEvents {
					sayTwice("data.events")
					return
				}
				seenEvents = true
				if r.Peek() == '[' { // present, possibly empty: the validator tells those apart
					data.Events = make([]json.RawMessage, 0, 16)
				}
				r.Arr("events", func() {
					if maxEvents > 0 && len(data.Events) >= maxEvents {
						tooMany = true
						r.Fail("too many events")
						return
					}
					raw, dup := b.readEvent(r, body, head, "data.events", len(data.Events))
					if dup != nil && twice == nil {
						twice = dup
					}
					data.Events = append(data.Events, raw)
				})
			}) {
				env.Data = data
			}
		default:
			r.Value()
		}
	})
	r.End()
	if tooMany {
		return nil, &DecodeError{Kind: ErrTooManyEvents, Fields: []FieldError{{Field: "data.events", Reason: "more than " + strconv.Itoa(maxEvents) + " events"}}}
	}
	if r.Err() != nil {
		return nil, syntaxFailure(r.Err())
	}
	if twice != nil {
		return nil, &DecodeError{Kind: ErrNotDelivery, Fields: []FieldError{*twice}}
	}
	if r.TypeErr() != nil {
		return nil, &DecodeError{Kind: ErrNotDelivery, Fields: []FieldError{*r.TypeErr()}}
	}
	if err := validatorInstance().Struct(&env); err != nil {
		return nil, &DecodeError{Kind: ErrNotDelivery, Fields: fieldErrors(err, "")}
	}
	b.Org = orgOf(env.Source)
	env.Data = nil
	return b, nil
}

// reasonTwice is why a key that decides what hookd keeps may not be said twice: readers of
// the same text disagree on which of the two counts (encoding/json takes the last, others
// the first), so choosing one would let a reader of the raw event see another than hookd.
const reasonTwice = "appears twice"

// envelopeKeys is a set of the envelope's keys, one bit each, so that a key said twice is
// found without a map.
type envelopeKeys uint8

const (
	keyEventType envelopeKeys = 1 << iota
	keyEventTypeVersion
	keyCloudEventsVersion
	keyContentType
	keyEventID
	keyEventTime
	keySource
	keyData
)

// envelopeKeyOf returns the bit of an envelope key, or 0 for a key hookd does not read.
func envelopeKeyOf(key string) envelopeKeys {
	switch key {
	case "eventType":
		return keyEventType
	case "eventTypeVersion":
		return keyEventTypeVersion
	case "cloudEventsVersion":
		return keyCloudEventsVersion
	case "contentType":
		return keyContentType
	case "eventId":
		return keyEventID
	case "eventTime":
		return keyEventTime
	case "source":
		return keySource
	case "data":
		return keyData
	}
	return 0
}

// DecodeEvents reads a JSON array of System Log events, as /api/v1/logs returns them.
func DecodeEvents(rd io.Reader) (*Batch, error) {
	body, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	r := jsonscan.New(string(body))
	b := &Batch{}
	head := new(eventHead)
	n := 0
	r.Arr("", func() {
		// An event with a head key said twice is rejected like any other bad event, not the
		// page: a page refused for good would hold the poller at it for good.
		b.readEvent(r, body, head, "", n)
		n++
	})
	r.End()
	if r.Err() != nil {
		return nil, syntaxFailure(r.Err())
	}
	if r.TypeErr() != nil {
		return nil, &DecodeError{Kind: ErrNotDelivery, Fields: []FieldError{*r.TypeErr()}}
	}
	return b, nil
}

// readEvent reads event i of a batch, checks what hookd relies on, sorts it into Events or
// Rejected, and returns its text. Only the head is looked at here; LogEvent decodes the rest
// when it is needed. A head key said twice is one of the event's problems, and is also
// returned, for a caller that refuses the whole body for it.
// headKeyFolded is the head key that key spells in another case, or 0.
func headKeyFolded(key string) headKeys {
	switch {
	case strings.EqualFold(key, "uuid"):
		return headUUID
	case strings.EqualFold(key, "eventType"):
		return headEventType
	case strings.EqualFold(key, "published"):
		return headPublished
	}
	return 0
}

func (b *Batch) readEvent(r *jsonscan.Reader, body []byte, head *eventHead, path string, i int) (json.RawMessage, *FieldError) {
	r.SkipSpace()
	start := r.Pos()
	*head = eventHead{}
	var problems []FieldError
	at := func() string { return path + "[" + strconv.Itoa(i) + "]" }
	if c := r.Peek(); c != '{' {
		kind := r.Kind()
		r.Value()
		if r.Err() == nil {
			b.Rejected = append(b.Rejected, Rejection{Index: i, Problems: []FieldError{{Field: at(), Reason: "must be an object, got " + kind}}})
		}
		return body[start:r.Pos():r.Pos()], nil
	}
	var seen, twice headKeys
	dup := -1 // the index in problems of the first key said twice
	r.Object(func(key string) {
		var dst *string
		var bit headKeys
		switch key {
		case "uuid":
			dst, bit = &head.UUID, headUUID
		case "eventType":
			dst, bit = &head.EventType, headEventType
		case "published":
			dst, bit = &head.Published, headPublished
		default:
			// A reader that matches keys without regard to case (encoding/json into a struct)
			// takes "UUID" for "uuid": such a key counts as the same one, and is not read.
			bit = headKeyFolded(key)
			if bit == 0 || seen&bit == 0 {
				seen |= bit
				r.Value()
				return
			}
		}
		if seen&bit != 0 {
			if twice&bit == 0 {
				twice |= bit
				if dup < 0 {
					dup = len(problems)
				}
				problems = append(problems, FieldError{Field: at() + "." + key, Reason: reasonTwice})
			}
			r.Value()
			return
		}
		seen |= bit
		switch r.Peek() {
		case '"':
			*dst = r.Str()
		case 'n':
			r.Literal("null")
			*dst = ""
		default:
			problems = append(problems, FieldError{Field: at() + "." + key, Reason: "must be a string, got " + r.Kind()})
			r.Value()
		}
	})
	if r.Err() != nil {
		return nil, nil
	}
	ev := Event{Index: i, UUID: head.UUID, EventType: head.EventType, Raw: body[start:r.Pos():r.Pos()]}
	if problems == nil {
		if err := validatorInstance().Struct(head); err != nil {
			problems = fieldErrors(err, at())
		} else if t, err := parseTime(head.Published); err != nil {
			problems = []FieldError{{Field: at() + ".published", Reason: "not an RFC 3339 time"}}
		} else {
			ev.Published = t
		}
	}
	if problems != nil {
		// A value said twice is neither of its readings: the rejection names none.
		if twice&headUUID != 0 {
			ev.UUID = ""
		}
		if twice&headEventType != 0 {
			ev.EventType = ""
		}
		b.Rejected = append(b.Rejected, Rejection{Index: i, UUID: ev.UUID, EventType: ev.EventType, Problems: problems})
		if dup >= 0 {
			return ev.Raw, &problems[dup]
		}
		return ev.Raw, nil
	}
	if b.Events == nil {
		b.Events = make([]Event, 0, 16)
	}
	b.Events = append(b.Events, ev)
	return ev.Raw, nil
}

// headKeys is a set of the head's keys, one bit each, so that a key said twice is found
// without a map on the path every event takes.
type headKeys uint8

const (
	headUUID headKeys = 1 << iota
	headEventType
	headPublished
)

func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// LogEvent decodes the whole event. Okta may change a field's type without notice, so a value
// of a surprising type does not lose the event: it is skipped, the rest is decoded, and the
// problem returned.
func (e Event) LogEvent() (LogEvent, *FieldError) {
	r := jsonscan.New(string(e.Raw))
	le := decodeLogEvent(r, e.Raw)
	// Batch checked the head already (and refused it when a key of it is said twice): keep
	// its reading.
	le.UUID, le.EventType, le.Published = e.UUID, e.EventType, e.Published
	if r.Err() != nil {
		return le, &FieldError{Reason: r.Err().Error()}
	}
	return le, r.TypeErr()
}

func syntaxFailure(e *jsonscan.SyntaxError) error {
	return &DecodeError{Kind: ErrMalformed, Fields: []FieldError{{Reason: fmt.Sprintf("%s (at byte %d)", e.Error(), e.Offset())}}}
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
		return fmt.Sprintf("must be %q, got %q", fe.Param(), clip.Bytes(fmt.Sprint(fe.Value()), 64))
	case "min":
		return "must contain at least " + fe.Param() + " element(s)"
	case "max":
		return "longer than " + fe.Param() + " characters"
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
