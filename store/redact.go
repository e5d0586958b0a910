package store

import "regexp"

var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)
	kvPassword  = regexp.MustCompile(`(?i)(password=)\S+`)
)

// redact returns an error's text with any database password taken out, so that errors can
// be logged and returned to callers.
func redact(err error) string {
	if err == nil {
		return ""
	}
	s := urlPassword.ReplaceAllString(err.Error(), "${1}***@")
	return kvPassword.ReplaceAllString(s, "${1}***")
}
