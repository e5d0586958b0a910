// Package jsonscan is a strict, single-pass JSON reader for hookd's decoders: it hands out
// substrings of the input instead of copies, and on a value of an unexpected type it notes
// the field and goes on, as encoding/json does. It knows nothing of Okta: hook maps Okta's
// wire format with it.
package jsonscan

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Reader is a strict, single-pass JSON reader over one immutable string. Strings without
// escapes come back as substrings of the input, so decoding an event allocates for its
// structure only, not for each of its dozens of strings. It accepts exactly what
// encoding/json.Valid accepts (FuzzDecode checks that), and like encoding/json it turns
// invalid UTF-8 and lone surrogates in strings into U+FFFD.
//
// encoding/json was measured first (docs/BENCHMARKS.md): it scans each value twice and
// allocates every string, which put it at half the speed of a map[string]any decode.
type Reader struct {
	s     string
	pos   int
	depth int
	err   *SyntaxError
	// typeErr is the first value found of another type than the wire types document; the
	// value is skipped and decoding goes on, as encoding/json does.
	typeErr *FieldError
	// path holds the names of the objects and arrays being read, for typeErr's field name;
	// it is joined only when there is an error to report.
	path []string
}

func New(s string) *Reader {
	return &Reader{s: s, path: make([]string, 0, 8)}
}

// fieldPath joins the current path and leaf into "client.geographicalContext.postalCode".
func (r *Reader) fieldPath(leaf string) string {
	out := ""
	for _, p := range append(r.path, leaf) {
		if p == "" {
			continue
		}
		if out != "" {
			out += "."
		}
		out += p
	}
	return out
}

// maxDepth bounds nesting, as encoding/json does, so hostile input cannot exhaust the stack.
const maxDepth = 10000

// SyntaxError is input that is not JSON, and where it stops being JSON.
type SyntaxError struct {
	msg    string
	offset int
}

// Error returns what is wrong.
func (e *SyntaxError) Error() string { return e.msg }

// Offset is the byte at which the input stops being JSON.
func (e *SyntaxError) Offset() int { return e.offset }

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

// Err is the syntax error that stopped the reader, if any.
func (r *Reader) Err() *SyntaxError { return r.err }

// TypeErr is the first value found of another type than expected, if any.
func (r *Reader) TypeErr() *FieldError { return r.typeErr }

// Pos is the offset of the next byte to read.
func (r *Reader) Pos() int { return r.pos }

// Fail stops the reader with a syntax error at the current offset (the first one stays).
func (r *Reader) Fail(msg string) {
	if r.err == nil {
		r.err = &SyntaxError{msg: msg, offset: r.pos}
	}
	r.pos = len(r.s) // stop everything that follows
}

func (r *Reader) failChar(context string) {
	if r.pos >= len(r.s) {
		r.Fail("unexpected end of JSON input")
		return
	}
	r.Fail("invalid character " + quoteChar(r.s[r.pos]) + " " + context)
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return strconv.QuoteRune(rune(c))
	}
	return "'" + string(rune(c)) + "'"
}

// SkipSpace skips white space.
func (r *Reader) SkipSpace() {
	i := r.pos
	for i < len(r.s) && r.s[i] <= ' ' && (r.s[i] == ' ' || r.s[i] == '\t' || r.s[i] == '\n' || r.s[i] == '\r') {
		i++
	}
	r.pos = i
}

// Peek skips white space and returns the next byte, or 0 at the end.
func (r *Reader) Peek() byte {
	// Okta sends JSON without white space: a byte above ' ' is not white space.
	if r.pos < len(r.s) && r.s[r.pos] > ' ' {
		return r.s[r.pos]
	}
	r.SkipSpace()
	if r.pos >= len(r.s) {
		return 0
	}
	return r.s[r.pos]
}

// Kind names the JSON type of the value that starts at the next byte.
func (r *Reader) Kind() string {
	switch r.Peek() {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if r.pos >= len(r.s) {
		return "nothing"
	}
	return "number"
}

// null consumes a null and reports whether there was one.
func (r *Reader) null() bool {
	if r.Peek() != 'n' {
		return false
	}
	r.Literal("null")
	return true
}

// Literal consumes word (true, false or null), or fails.
func (r *Reader) Literal(word string) {
	if len(r.s)-r.pos >= len(word) && r.s[r.pos:r.pos+len(word)] == word {
		r.pos += len(word)
		return
	}
	for i := 0; i < len(word); i++ {
		if r.pos >= len(r.s) || r.s[r.pos] != word[i] {
			r.failChar("in literal " + word + " (expecting " + quoteChar(word[i]) + ")")
			return
		}
		r.pos++
	}
}

// Value skips one value of any type, checking its syntax.
func (r *Reader) Value() {
	switch r.Peek() {
	case '{':
		r.Object(func(string) { r.Value() })
	case '[':
		r.array(func() { r.Value() })
	case '"':
		r.Str()
	case 't':
		r.Literal("true")
	case 'f':
		r.Literal("false")
	case 'n':
		r.Literal("null")
	default:
		r.number()
	}
}

// Object reads an object, calling member for each key with the Reader at the value;
// member must consume the value.
func (r *Reader) Object(member func(key string)) {
	if r.Peek() != '{' {
		r.failChar("looking for beginning of object")
		return
	}
	r.pos++
	if r.depth++; r.depth > maxDepth {
		r.Fail("exceeded max depth")
		return
	}
	if r.Peek() == '}' {
		r.pos++
		r.depth--
		return
	}
	for r.err == nil {
		if r.Peek() != '"' {
			r.failChar("looking for beginning of object key string")
			return
		}
		key := r.Str()
		if r.Peek() != ':' {
			r.failChar("after object key")
			return
		}
		r.pos++
		r.SkipSpace()
		if r.pos >= len(r.s) {
			r.Fail("unexpected end of JSON input")
			return
		}
		member(key)
		switch r.Peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			r.depth--
			return
		default:
			r.failChar("after object key:value pair")
			return
		}
	}
}

// array reads an array, calling elem with the Reader at each element; elem must consume it.
func (r *Reader) array(elem func()) {
	if r.Peek() != '[' {
		r.failChar("looking for beginning of array")
		return
	}
	r.pos++
	if r.depth++; r.depth > maxDepth {
		r.Fail("exceeded max depth")
		return
	}
	if r.Peek() == ']' {
		r.pos++
		r.depth--
		return
	}
	for r.err == nil {
		r.SkipSpace()
		if r.pos >= len(r.s) {
			r.Fail("unexpected end of JSON input")
			return
		}
		elem()
		switch r.Peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			return
		default:
			r.failChar("after array element")
			return
		}
	}
}

// literal marks the bytes a string holds as they are: printable ASCII but '"' and '\\'.
var literal = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Str reads a string. Without escapes or invalid UTF-8 it is a substring of the input.
func (r *Reader) Str() string {
	if r.Peek() != '"' {
		r.failChar("looking for beginning of string")
		return ""
	}
	r.pos++
	start := r.pos
	plain := true
	for r.pos < len(r.s) {
		// Most of a string is printable ASCII: skip it in a tight loop, with the position in
		// a local the compiler can keep in a register.
		i := r.pos
		for i < len(r.s) && literal[r.s[i]] {
			i++
		}
		if r.pos = i; i == len(r.s) {
			break
		}
		c := r.s[i]
		switch {
		case c == '"':
			s := r.s[start:r.pos]
			r.pos++
			if plain {
				return s
			}
			return unquote(s)
		case c == '\\':
			plain = false
			r.pos++
			if r.pos >= len(r.s) {
				r.Fail("unexpected end of JSON input")
				return ""
			}
			switch r.s[r.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.pos++
			case 'u':
				r.pos++
				for i := 0; i < 4; i++ {
					if r.pos >= len(r.s) {
						r.Fail("unexpected end of JSON input")
						return ""
					}
					if !isHex(r.s[r.pos]) {
						r.failChar("in \\u hexadecimal character escape")
						return ""
					}
					r.pos++
				}
			default:
				r.failChar("in string escape code")
				return ""
			}
		case c < 0x20:
			r.failChar("in string literal")
			return ""
		default: // the first byte of a multi-byte character (the loop above took ASCII)
			ru, size := utf8.DecodeRuneInString(r.s[r.pos:])
			if ru == utf8.RuneError && size == 1 {
				plain = false
			}
			r.pos += size
		}
	}
	r.Fail("unexpected end of JSON input")
	return ""
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unquote decodes the body of a string whose syntax str has already checked.
func unquote(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				b = append(b, c)
				i++
				continue
			}
			ru, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, ru) // RuneError for invalid bytes, as encoding/json does
			i += size
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			ru := hex4(s[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(ru) {
				if i+7 <= len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if pair := utf16.DecodeRune(ru, hex4(s[i+3:i+7])); pair != utf8.RuneError {
						ru = pair
						i += 6
					} else {
						ru = utf8.RuneError
					}
				} else {
					ru = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, ru)
		default: // '"', '\\', '/'
			b = append(b, s[i])
		}
		i++
	}
	return string(b)
}

func hex4(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number reads a number and returns its text.
func (r *Reader) number() string {
	start := r.pos
	if r.pos < len(r.s) && r.s[r.pos] == '-' {
		r.pos++
	}
	switch {
	case r.pos >= len(r.s):
		r.Fail("unexpected end of JSON input")
		return ""
	case r.s[r.pos] == '0':
		r.pos++
	case '1' <= r.s[r.pos] && r.s[r.pos] <= '9':
		r.digits()
	default:
		if start == r.pos {
			r.failChar("looking for beginning of value")
		} else {
			r.failChar("in numeric literal")
		}
		return ""
	}
	if r.pos < len(r.s) && r.s[r.pos] == '.' {
		r.pos++
		if r.pos >= len(r.s) || !isDigit(r.s[r.pos]) {
			r.failChar("after decimal point in numeric literal")
			return ""
		}
		r.digits()
	}
	if r.pos < len(r.s) && (r.s[r.pos] == 'e' || r.s[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.s) && (r.s[r.pos] == '+' || r.s[r.pos] == '-') {
			r.pos++
		}
		if r.pos >= len(r.s) || !isDigit(r.s[r.pos]) {
			r.failChar("in exponent of numeric literal")
			return ""
		}
		r.digits()
	}
	return r.s[start:r.pos]
}

func (r *Reader) digits() {
	for r.pos < len(r.s) && isDigit(r.s[r.pos]) {
		r.pos++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// End checks that nothing but white space follows the top-level value.
func (r *Reader) End() {
	r.SkipSpace()
	if r.pos < len(r.s) && r.err == nil {
		r.failChar("after top-level value")
	}
}

// mismatch records that the value at leaf is not of the documented type and skips it.
func (r *Reader) mismatch(leaf, want string) {
	if r.typeErr == nil {
		r.typeErr = &FieldError{Field: r.fieldPath(leaf), Reason: "must be " + want + ", got " + r.Kind()}
	}
	r.Value()
}

// Note records a problem with the value just read at leaf, unless one is recorded already.
func (r *Reader) Note(leaf, reason string) {
	if r.typeErr == nil && r.err == nil {
		r.typeErr = &FieldError{Field: r.fieldPath(leaf), Reason: reason}
	}
}

// Text reads a string field into dst; null leaves it as it is.
func (r *Reader) Text(dst *string, field string) {
	switch r.Peek() {
	case '"':
		*dst = r.Str()
	case 'n':
		r.Literal("null")
	default:
		r.mismatch(field, "a string")
	}
}

// Raw reads any value into dst as raw JSON; null leaves it empty.
func (r *Reader) Raw(dst *json.RawMessage, body []byte) {
	if r.null() {
		return
	}
	r.SkipSpace()
	start := r.pos
	r.Value()
	if r.err == nil {
		*dst = body[start:r.pos:r.pos]
	}
}

// Boolean reads a boolean field into dst, allocating from spare; null leaves dst nil.
func (r *Reader) Boolean(dst **bool, spare *bool, field string) {
	switch r.Peek() {
	case 't', 'f':
		*spare = r.s[r.pos] == 't'
		r.Value()
		*dst = spare
	case 'n':
		r.Literal("null")
	default:
		r.mismatch(field, "a boolean")
	}
}

// Integer reads an integer field; it reports whether one was there.
func (r *Reader) Integer(dst *int64, field string) bool {
	switch c := r.Peek(); {
	case c == '-' || isDigit(c):
		n, err := strconv.ParseInt(r.number(), 10, 64)
		if err != nil {
			r.Note(field, "must be an integer, got number")
			return false
		}
		*dst = n
		return err == nil
	case c == 'n':
		r.Literal("null")
	default:
		r.mismatch(field, "a number")
	}
	return false
}

// Float reads a number field into dst; null leaves it as it is.
func (r *Reader) Float(dst *float64, field string) {
	switch c := r.Peek(); {
	case c == '-' || isDigit(c):
		f, err := strconv.ParseFloat(r.number(), 64)
		if err != nil {
			r.Note(field, "number out of range")
		}
		*dst = f
	case c == 'n':
		r.Literal("null")
	default:
		r.mismatch(field, "a number")
	}
}

// Obj reads an object field, or null (reporting false), or records a type mismatch.
func (r *Reader) Obj(field string, member func(key string)) bool {
	switch r.Peek() {
	case '{':
		r.path = append(r.path, field)
		r.Object(member)
		r.path = r.path[:len(r.path)-1]
		return true
	case 'n':
		r.Literal("null")
	default:
		r.mismatch(field, "an object")
	}
	return false
}

// Arr reads an array field, or null, or records a type mismatch.
func (r *Reader) Arr(field string, elem func()) {
	switch r.Peek() {
	case '[':
		r.path = append(r.path, field)
		r.array(elem)
		r.path = r.path[:len(r.path)-1]
	case 'n':
		r.Literal("null")
	default:
		r.mismatch(field, "an array")
	}
}
