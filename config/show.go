package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Setting is one effective setting, as `hookd check` prints it.
type Setting struct {
	Env   string
	Value string
}

// Settings lists every setting with its effective value; secrets show only whether they are
// set, and how many values a list holds.
func (c *Config) Settings() []Setting {
	root := reflect.ValueOf(c).Elem()
	out := make([]Setting, 0, len(settings))
	for _, s := range settings {
		f := root.FieldByIndex(s.index)
		out = append(out, Setting{Env: s.env, Value: display(f, s.secret)})
	}
	return out
}

func display(f reflect.Value, secret bool) string {
	if f.IsZero() && (secret || f.Kind() == reflect.Slice || f.Kind() == reflect.String) {
		return "(not set)"
	}
	if f.Kind() == reflect.Slice {
		if secret {
			return fmt.Sprintf("(%d set, hidden)", f.Len())
		}
		return strings.Join(f.Interface().([]string), ",")
	}
	if secret {
		return "(set, hidden)"
	}
	return fmt.Sprint(f.Interface())
}
