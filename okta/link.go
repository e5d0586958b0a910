package okta

import (
	"net/http"
	"strings"
)

// NextLink is the target of the Link header's rel="next", or "": Okta pages its APIs so,
// sending self and next as separate links, in one header or several. The caller checks that
// the target stays where it asked, so an answer cannot send it, and its credentials,
// elsewhere.
func NextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range splitOutsideAngles(v) {
			target, params, ok := strings.Cut(part, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}

// splitOutsideAngles splits a Link header value at the commas between links, not those
// inside a link's <>.
func splitOutsideAngles(v string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range v {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}
