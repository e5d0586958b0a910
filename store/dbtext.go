package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/jackc/pgx/v5/pgconn"
	sqlitedriver "modernc.org/sqlite"
)

// keyPrefix marks a key column value that holds its string in base64.
const keyPrefix = "~b64:"

// dbKey returns s as a key column can hold it on both databases. Okta's strings may carry NUL
// or invalid UTF-8, which Postgres's text refuses; such a string is kept in base64 behind a
// prefix. The mapping is one to one (a clean string that starts with the prefix is encoded
// too), so de-duplication by key stays exact.
func dbKey(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) && !strings.HasPrefix(s, keyPrefix) {
		return s
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString([]byte(s))
}

// jsonbSafe returns JSON text (as encoding/json writes it: valid UTF-8) that Postgres's jsonb
// takes: jsonb refuses the \u0000 escape, so NUL becomes U+FFFD. Only for copies whose exact
// text is kept elsewhere or lost anyway.
func jsonbSafe(js []byte) []byte {
	return []byte(strings.ReplaceAll(string(js), `\u0000`, `\ufffd`))
}

// rejectedError is a database's refusal of the data written, as opposed to the database
// being unreachable: retrying the same rows cannot succeed, and other rows need not fail
// with them. It is also a hookd.ErrUnavailable for callers that only tell stored from not.
type rejectedError struct {
	op  string
	msg string
}

func (e *rejectedError) Error() string { return "store: " + e.op + " refused: " + e.msg }

// Unwrap returns hookd.ErrUnavailable.
func (e *rejectedError) Unwrap() error { return hookd.ErrUnavailable }

// dbError wraps a database error of operation op: a refusal of the data as *rejectedError,
// anything else (connection, timeout, resources) as hookd.ErrUnavailable, nil as nil; an
// error it already classified is kept as it is. Passwords are redacted.
func dbError(op string, err error) error {
	switch {
	case err == nil || errors.Is(err, hookd.ErrUnavailable):
		return err
	case refusesData(err):
		return &rejectedError{op: op, msg: redact(err)}
	}
	return fmt.Errorf("%w: %s: %s", hookd.ErrUnavailable, op, redact(err))
}

// refusesData reports whether err is the database refusing what was written (a data or
// constraint error, a raised exception), not a failure to reach it.
func refusesData(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "22", // data exception: bad encoding, NUL in text, unsupported escape in jsonb
			"23", // integrity constraint violation
			"54", // program limit exceeded: a value too large
			"P0": // raised by a trigger or function
			return true
		}
		return false
	}
	var se *sqlitedriver.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 18, // SQLITE_TOOBIG
			19, // SQLITE_CONSTRAINT (also RAISE in a trigger)
			20, // SQLITE_MISMATCH
			25: // SQLITE_RANGE
			return true
		}
	}
	return false
}

// boolArg is a boolean as the dialect's column holds it: SQLite's INTEGER 0 or 1.
func (s *Store) boolArg(b bool) any {
	if s.dialect != sqlite {
		return b
	}
	if b {
		return 1
	}
	return 0
}

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
