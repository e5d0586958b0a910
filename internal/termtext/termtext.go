// Package termtext makes strings from outside (Okta, receivers, the admin API's answers) safe to
// print on a terminal: nothing in them can retitle the window, clear the screen, move the
// cursor, reorder the text or start a line of its own.
package termtext

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every character a terminal could obey written as a visible escape,
// in Go's string-literal spelling so that it reads the way alert lines on the console do:
//
//   - tab, newline and carriage return as \t, \n and \r: a tab breaks tabwriter's columns and
//     a line break forges a row;
//   - the other C0 controls and DEL as \x1b, \x7f;
//   - C1 controls as \u009b: some terminals read U+009B as CSI, as ESC [;
//   - bidirectional controls as \u202e, and the line and paragraph separators as \u2028;
//   - each byte that is not UTF-8 as \xff: 0xff is also tabwriter's escape character, and a
//     terminal may read a stray byte as the start of a sequence.
//
// A backslash is doubled, so the escapes cannot be forged: a display name spelt `\x1b` prints
// as `\\x1b`, and two different strings never print the same. Everything else, letters of any
// script, emoji and their joiners, is left as it is.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, i, len(s)+16)
	copy(b, s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case !needsEscape(r, size):
			b = append(b, s[i:i+size]...)
		case r == utf8.RuneError && size == 1:
			b = appendHex(append(b, `\x`...), uint32(s[i]), 2)
		case r == '\\':
			b = append(b, `\\`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r < utf8.RuneSelf:
			b = appendHex(append(b, `\x`...), uint32(r), 2)
		default:
			b = appendHex(append(b, `\u`...), uint32(r), 4)
		}
		i += size
	}
	return string(b)
}

// JSON returns encoding/json's output b with DEL, C1 and bidirectional controls written as
// \u escapes, which encoding/json leaves raw. They can only stand inside JSON strings, and
// \u007f decodes to the same value, so a script reads exactly what it read before.
func JSON(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if size > 1 || r == 0x7f {
			if controls(r) {
				if out == nil {
					out = append(make([]byte, 0, len(b)+16), b[:i]...)
				}
				out = appendHex(append(out, `\u`...), uint32(r), 4)
				i += size
				continue
			}
		}
		if out != nil {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	if out == nil {
		return b
	}
	return out
}

// needsEscape reports whether Escape writes the rune r, size bytes long, as an escape.
func needsEscape(r rune, size int) bool {
	if r == utf8.RuneError && size == 1 {
		return true // a byte that is not UTF-8; a U+FFFD that is spelt out stays
	}
	return r == '\\' || r < 0x20 || controls(r)
}

// controls reports whether r is a control beyond C0 that a terminal or a viewer of its text
// may act on.
func controls(r rune) bool {
	switch {
	case r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == '\u2028', r == '\u2029':
		return true
	}
	return unicode.Is(unicode.Bidi_Control, r)
}

func appendHex(b []byte, v uint32, digits int) []byte {
	h := strconv.FormatUint(uint64(v), 16)
	for n := len(h); n < digits; n++ {
		b = append(b, '0')
	}
	return append(b, h...)
}
