package termtext

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "Bob Builder <bob@example.com>", "Bob Builder <bob@example.com>"},
		{"accented letters", "José Müller", "José Müller"},
		{"other scripts", "管理者 Администратор مدير", "管理者 Администратор مدير"},
		{"emoji, with a joiner and a variation selector", "😀 👩‍💻 ❤️", "😀 👩‍💻 ❤️"},
		{"quotes stay", `O'Brien "Ops"`, `O'Brien "Ops"`},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"clear screen", "\x1b[2J", `\x1b[2J`},
		{"backspaces", "Bob\b\b\b", `Bob\x08\x08\x08`},
		{"tab", "a\tb", `a\tb`},
		{"newline", "x\ny", `x\ny`},
		{"carriage return", "x\r\ny", `x\r\ny`},
		{"nul and the rest of C0", "\x00\x0b\x0c\x1f", `\x00\x0b\x0c\x1f`},
		{"delete", "a\x7fb", `a\x7fb`},
		{"C1 CSI", "\u009b31m", `\u009b31m`},
		{"C1 next line", "a\u0085b", `a\u0085b`},
		{"C1 first and last", "\u0080\u009f", `\u0080\u009f`},
		{"bidi override", "user\u202egnp.exe", `user\u202egnp.exe`},
		{"bidi embeddings", "\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"bidi isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"bidi marks", "\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		{"line and paragraph separators", "x\u2028y\u2029z", `x\u2028y\u2029z`},
		{"invalid byte", "a\xffb", `a\xffb`},
		{"cut rune", "Jos\xc3", `Jos\xc3`},
		{"encoded surrogate", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"backslash doubled", `CORP\jdoe`, `CORP\\jdoe`},
		{"a forged escape stays text", `Bob\x1b[2J`, `Bob\\x1b[2J`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Escape(tc.in))
		})
	}
}

func TestJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string // a value as it came from outside
		want string // its JSON as printed
	}{
		{"printable", "José Müller 😀", `"José Müller 😀"`},
		{"C0 already escaped by encoding/json", "a\tb\x1b", `"a\tb\u001b"`},
		{"delete", "a\x7f", `"a\u007f"`},
		{"C1", "\u009b31m", `"\u009b31m"`},
		{"bidi", "\u202e\u2066\u200f", `"\u202e\u2066\u200f"`},
		{"after an escaped backslash", "\\\u009b", `"\\\u009b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			require.NoError(t, err)
			got := JSON(b)
			assert.Equal(t, tc.want, string(got))
			var back string
			require.NoError(t, json.Unmarshal(got, &back))
			assert.Equal(t, tc.in, back, "a script reads the same value")
		})
	}
}

// steers reports whether r could move, hide or reorder what a terminal shows. It is written
// apart from the package's own test so that the fuzz target checks against a second opinion.
func steers(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Bidi_Control, r) ||
		r == '\u2028' || r == '\u2029'
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "José", "\x1b]0;pwned\x07", "a\tb\ny", "\u009b\u202e", `\x1b`, "\xff\xc3", "\\\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		require.True(t, utf8.ValidString(out), "%q", out)
		for _, r := range out {
			require.False(t, steers(r), "%q left %U in %q", s, r, out)
		}
		// Escapes are Go's string-literal escapes and a backslash is doubled, so reading the
		// output back gives the input: two different strings never print the same.
		back, err := strconv.Unquote(`"` + strings.ReplaceAll(out, `"`, `\"`) + `"`)
		require.NoError(t, err, "%q", out)
		require.Equal(t, s, back)
		if utf8.ValidString(s) && !strings.ContainsFunc(s, steers) && !strings.Contains(s, `\`) {
			require.Equal(t, s, out, "printable text is left alone")
		}
	})
}
