// Package clip shortens strings that come from outside (Okta, receivers) before they reach a
// log line, an error or a message with a size limit, marking the cut with "…".
package clip

import "unicode/utf8"

// Bytes returns s cut to at most n bytes, on a rune boundary, followed by "…" when cut.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Runes returns s cut to at most n characters (runes), the last of them "…" when cut: the
// unit of Slack's and Teams' limits.
func Runes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return string([]rune(s)[:n-1]) + "…"
}
