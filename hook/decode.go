package hook

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/hookd/hookd/internal/clip"
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
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error returns "field: reason".
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

// jsonOptions read as encoding/json does: a value of another type than the field's is
// skipped, the rest decoded and the first such problem returned; bytes that are not UTF-8
// read as U+FFFD. Keys match only in their own case, as Okta writes them.
var jsonOptions = jsonv2.JoinOptions(json.DefaultOptionsV1(), jsonv2.MatchCaseInsensitiveNames(false))

// textOptions let the walk read what encoding/json reads: a key said twice (the walk decides
// on those itself) and strings that are not UTF-8.
var textOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// reasonTwice is why a key that decides what hookd keeps may not be said twice: readers of
// the same text disagree on which of the two counts (encoding/json takes the last, others
// the first), so choosing one would let a reader of the raw event see another than hookd.
const reasonTwice = "appears twice"

// The keys of the envelope and of an event's head, by the JSON names of their types, so
// that the walk below knows them without naming them again.
var (
	envelopeKeys, _     = jsonKeys(reflect.TypeFor[Envelope]())
	headKeys, headNames = jsonKeys(reflect.TypeFor[eventHead]())
)

// jsonKeys maps the JSON names of a struct type's fields to the fields' indexes, and lists
// them by index.
func jsonKeys(t reflect.Type) (map[string]int, []string) {
	keys, names := make(map[string]int, t.NumField()), make([]string, t.NumField())
	for i := range t.NumField() {
		names[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys[names[i]] = i
	}
	return keys, names
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

// DecodeBytes reads an Okta event-hook delivery. It refuses the whole body (a *DecodeError)
// only when the body is not JSON or not a delivery envelope; an event that lacks what hookd
// relies on is listed in Batch.Rejected and the other events are kept. The batch's raw events
// are slices of body, so the caller must not change body while the batch is in use.
func DecodeBytes(body []byte) (*Batch, error) { return DecodeLimited(body, 0) }

// errTooMany stops the walk at the first event past the cap.
var errTooMany = errors.New("too many events")

// DecodeLimited is DecodeBytes that refuses, with ErrTooManyEvents, a delivery of more than
// maxEvents events (0: no cap). It stops reading at the first event past the cap, so a body
// of millions of tiny events costs no more than the cap's worth of work.
//
// Only the keys that decide what hookd keeps are read here, one by one, so that one said
// twice is seen: the envelope's, and each event's head. The rest of an event is kept as its
// text and decoded by LogEvent when its type is watched.
func DecodeLimited(body []byte, maxEvents int) (*Batch, error) {
	w := walker{dec: jsontext.NewDecoder(bytes.NewBuffer(body), textOptions), body: body}
	var env Envelope
	b := &Batch{Envelope: &env}
	fields := reflect.ValueOf(&env).Elem()
	var said uint64 // the envelope's keys said, by the bit of their field
	err := w.object("", func(key []byte) error {
		i, known := envelopeKeys[string(key)]
		first := said&(1<<i) == 0
		if known {
			said |= 1 << i
		}
		switch {
		case known && !first:
			w.twice(string(key))
			return w.dec.SkipValue()
		case string(key) == "data":
			return w.data(&env, b, maxEvents)
		case known:
			return w.field(fields.Field(i).Addr().Interface(), string(key))
		}
		return w.dec.SkipValue()
	})
	if errors.Is(err, errTooMany) {
		return nil, &DecodeError{Kind: ErrTooManyEvents, Fields: []FieldError{{Field: "data.events", Reason: "more than " + strconv.Itoa(maxEvents) + " events"}}}
	}
	if err := w.end(err); err != nil {
		return nil, err
	}
	if err := validatorInstance().Struct(&env); err != nil {
		return nil, &DecodeError{Kind: ErrNotDelivery, Fields: fieldErrors(err, "")}
	}
	b.Org = orgOf(env.Source)
	env.Data = nil
	return b, nil
}

// data reads the envelope's data: its events, each checked and sorted into the batch.
func (w *walker) data(env *Envelope, b *Batch, maxEvents int) error {
	if w.dec.PeekKind() == '{' {
		env.Data = &HookData{}
	}
	said := false
	return w.object("data", func(key []byte) error {
		if string(key) != "events" {
			return w.dec.SkipValue()
		}
		if said {
			w.twice("data.events")
			return w.dec.SkipValue()
		}
		said = true
		if w.dec.PeekKind() == '[' { // present, possibly empty: the validator tells those apart
			env.Data.Events = make([]json.RawMessage, 0, 16)
		}
		return w.array("data.events", func() error {
			if maxEvents > 0 && len(env.Data.Events) >= maxEvents {
				return errTooMany
			}
			raw, err := w.event(b, "data.events", len(env.Data.Events))
			env.Data.Events = append(env.Data.Events, raw)
			return err
		})
	})
}

// DecodeEvents reads a JSON array of System Log events, as /api/v1/logs returns them.
func DecodeEvents(rd io.Reader) (*Batch, error) {
	body, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	w := walker{dec: jsontext.NewDecoder(bytes.NewBuffer(body), textOptions), body: body}
	b := &Batch{}
	n := 0
	err = w.array("", func() error {
		// An event with a head key said twice is rejected like any other bad event, not the
		// page: a page refused for good would hold the poller at it for good.
		_, err := w.event(b, "", n)
		n++
		return err
	})
	w.dup = nil // such an event is rejected on its own
	if err := w.end(err); err != nil {
		return nil, err
	}
	return b, nil
}

// walker reads the structure of a body with jsontext, noting what it found wrong.
type walker struct {
	dec  *jsontext.Decoder
	body []byte
	// wrongType is the first value of another type than expected; dup the first key that
	// decides what hookd keeps said twice.
	wrongType, dup *FieldError
}

// end turns the walk's outcome into the body's refusal, if any: a syntax error first (the
// body must be one JSON value and nothing after it), then a key said twice, then a value of
// a wrong type.
func (w *walker) end(err error) error {
	if err == nil {
		if _, err = w.dec.ReadToken(); err == io.EOF {
			err = nil
		} else if err == nil {
			err = errors.New("data after the JSON value")
		}
	}
	if err != nil {
		// encoding/json's words, which say it best, at the offset of the byte that is wrong.
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(w.body, new(jsontext.Value)), &se) {
			at := se.Offset
			if je := (*jsontext.SyntacticError)(nil); errors.As(err, &je) {
				at = je.ByteOffset
			}
			return &DecodeError{Kind: ErrMalformed, Fields: []FieldError{{Reason: fmt.Sprintf("%s (at byte %d)", se.Error(), at)}}}
		}
		return &DecodeError{Kind: ErrMalformed, Fields: []FieldError{{Reason: err.Error()}}}
	}
	for _, f := range []*FieldError{w.dup, w.wrongType} {
		if f != nil {
			return &DecodeError{Kind: ErrNotDelivery, Fields: []FieldError{*f}}
		}
	}
	return nil
}

// twice notes a key said twice at path, the first one only.
func (w *walker) twice(path string) {
	if w.dup == nil {
		w.dup = &FieldError{Field: path, Reason: reasonTwice}
	}
}

// is reports whether the next value is of kind k. If not, it skips the value and notes the
// first such problem at path; null is skipped without a note, as an absent value.
func (w *walker) is(k jsontext.Kind, path string) (bool, error) {
	got := w.dec.PeekKind()
	if got == k {
		return true, nil
	}
	if got != 'n' && got != 0 && w.wrongType == nil {
		w.wrongType = &FieldError{Field: path, Reason: mustBe(k, kindName(got))}
	}
	return false, w.dec.SkipValue()
}

// object reads the object at path, calling each with every key, unescaped (valid until the
// next read); each reads or skips the value.
func (w *walker) object(path string, each func(key []byte) error) error {
	if ok, err := w.is('{', path); !ok {
		return err
	}
	if _, err := w.dec.ReadToken(); err != nil {
		return err
	}
	for w.dec.PeekKind() != '}' {
		name, err := w.dec.ReadValue() // read raw: most keys are only looked up, never kept
		if err != nil {
			return err
		}
		key := name[1 : len(name)-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			if key, err = jsontext.AppendUnquote(nil, name); err != nil {
				return err
			}
		}
		if err := each(key); err != nil {
			return err
		}
	}
	_, err := w.dec.ReadToken()
	return err
}

// array reads the array at path, calling each for every element; each reads the element.
func (w *walker) array(path string, each func() error) error {
	if ok, err := w.is('[', path); !ok {
		return err
	}
	if _, err := w.dec.ReadToken(); err != nil {
		return err
	}
	for w.dec.PeekKind() != ']' {
		if err := each(); err != nil {
			return err
		}
	}
	_, err := w.dec.ReadToken()
	return err
}

// field decodes the next value into v, noting a value of another type at path.
func (w *walker) field(v any, path string) error {
	err := jsonv2.UnmarshalDecode(w.dec, v, jsonOptions)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if w.wrongType == nil {
			w.wrongType = &FieldError{Field: path, Reason: typeReason(te)}
		}
		return nil
	}
	return err
}

// event reads element i of a batch's events, checks what hookd relies on, sorts it into
// Events or Rejected, and returns its text. Only the head is read here. A head key said
// twice is one of the event's problems, and noted for a caller that refuses the whole body
// for it.
func (w *walker) event(b *Batch, path string, i int) (json.RawMessage, error) {
	at := path + "[" + strconv.Itoa(i) + "]"
	start := w.dec.InputOffset()
	if k := w.dec.PeekKind(); k != '{' {
		if err := w.dec.SkipValue(); err != nil {
			return nil, err
		}
		b.Rejected = append(b.Rejected, Rejection{Index: i, Problems: []FieldError{{Field: at, Reason: "must be an object, got " + kindName(k)}}})
		return w.raw(start), nil
	}
	var head eventHead
	fields := reflect.ValueOf(&head).Elem()
	var problems []FieldError
	var said, twice uint8 // the head keys said, and said twice, by their bit
	err := w.object(at, func(key []byte) error {
		n, exact := headKeys[string(key)]
		if !exact {
			// A reader that matches keys without regard to case (encoding/json into a
			// struct) takes "UUID" for "uuid": such a key counts as the same one, unread.
			if n = foldedHeadKey(key); n < 0 || said&(1<<n) == 0 {
				if n >= 0 {
					said |= 1 << n
				}
				return w.dec.SkipValue()
			}
		}
		bit := uint8(1) << n
		if said&bit != 0 {
			if twice&bit == 0 {
				problems = append(problems, FieldError{Field: at + "." + string(key), Reason: reasonTwice})
				w.twice(at + "." + string(key))
			}
			twice |= bit
			return w.dec.SkipValue()
		}
		said |= bit
		// The head is strings: read as a token, where decoding into the field costs more.
		if k := w.dec.PeekKind(); k != '"' {
			if k != 'n' { // null reads as absent, as encoding/json reads it
				problems = append(problems, FieldError{Field: at + "." + headNames[n], Reason: mustBe('"', kindName(k))})
			}
			return w.dec.SkipValue()
		}
		tok, err := w.dec.ReadToken()
		fields.Field(n).SetString(tok.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	ev := Event{Index: i, UUID: head.UUID, EventType: head.EventType, Raw: w.raw(start)}
	if problems == nil {
		if err := validatorInstance().Struct(&head); err != nil {
			problems = fieldErrors(err, at)
		} else if t, err := time.Parse(time.RFC3339Nano, head.Published); err != nil {
			problems = []FieldError{{Field: at + ".published", Reason: "not an RFC 3339 time"}}
		} else {
			ev.Published = t
		}
	}
	if problems != nil {
		// A value said twice is neither of its readings: the rejection names none.
		if twice&(1<<headKeys["uuid"]) != 0 {
			ev.UUID = ""
		}
		if twice&(1<<headKeys["eventType"]) != 0 {
			ev.EventType = ""
		}
		b.Rejected = append(b.Rejected, Rejection{Index: i, UUID: ev.UUID, EventType: ev.EventType, Problems: problems})
		return ev.Raw, nil
	}
	if b.Events == nil {
		b.Events = make([]Event, 0, 16)
	}
	b.Events = append(b.Events, ev)
	return ev.Raw, nil
}

// foldedHeadKey is the index of the head key that key spells in another case, or -1.
func foldedHeadKey(key []byte) int {
	for i, name := range headNames {
		if len(key) == len(name) && strings.EqualFold(string(key), name) {
			return i
		}
	}
	return -1
}

// raw is the text of the value read since offset start, a slice of the body, without the
// separator and space before it.
func (w *walker) raw(start int64) json.RawMessage {
	end := w.dec.InputOffset()
	v := bytes.TrimLeft(w.body[start:end], " \t\r\n,")
	return v[:len(v):len(v)]
}

// LogEvent decodes the whole event. Okta may change a field's type without notice, so a value
// of a surprising type does not lose the event: it is skipped, the rest is decoded, and the
// problem returned.
func (e Event) LogEvent() (LogEvent, *FieldError) {
	var in struct {
		LogEvent
		// The batch checked the head already, and refused it when a key of it is said twice:
		// its reading is kept, not read again.
		Published jsontext.Value `json:"published"`
	}
	err := jsonv2.Unmarshal(e.Raw, &in, jsonOptions)
	le := in.LogEvent
	le.UUID, le.EventType, le.Published = e.UUID, e.EventType, e.Published
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return le, nil
	case errors.As(err, &te):
		return le, &FieldError{Field: te.Field, Reason: typeReason(te)}
	}
	return le, &FieldError{Reason: err.Error()}
}

// typeReason says what a value of another type than its field's should have been.
func typeReason(te *json.UnmarshalTypeError) string {
	got, _, _ := strings.Cut(te.Value, " ")
	if got == "bool" {
		got = "boolean"
	}
	want := jsontext.Kind('"')
	switch te.Type.Kind() {
	case reflect.Bool:
		want = 't'
	case reflect.Int, reflect.Int64, reflect.Float64:
		want = '0'
	case reflect.Slice, reflect.Array:
		want = '['
	case reflect.Struct, reflect.Map, reflect.Pointer:
		want = '{'
	}
	return mustBe(want, got)
}

// mustBe says a value is of kind got where one of kind want belongs: "must be a string, got number".
func mustBe(want jsontext.Kind, got string) string {
	return "must be " + article(want) + ", got " + got
}

// kindNames name JSON's kinds as error messages do.
var kindNames = map[jsontext.Kind]string{'{': "object", '[': "array", '"': "string", 't': "boolean", 'f': "boolean", 'n': "null", '0': "number"}

func kindName(k jsontext.Kind) string { return cmp.Or(kindNames[k], "nothing") }

// article is kindName with its article: "an object", "a string".
func article(k jsontext.Kind) string {
	if k == '{' || k == '[' {
		return "an " + kindName(k)
	}
	return "a " + kindName(k)
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
