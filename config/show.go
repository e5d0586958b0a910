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

// SecretValues lists every secret value the configuration holds (tokens, Okta secrets,
// sink URLs, signing secrets, routing keys, header values), for a last guard that blanks
// them out of anything shown.
func (c *Config) SecretValues() []string {
	root := reflect.ValueOf(c).Elem()
	var out []string
	for _, s := range settings {
		if !s.secret {
			continue
		}
		switch f := root.FieldByIndex(s.index); f.Kind() {
		case reflect.String:
			out = append(out, f.String())
		case reflect.Slice:
			out = append(out, f.Interface().([]string)...)
		}
	}
	for _, s := range c.AllSinks() {
		out = append(out, s.URL, s.Secret, s.RoutingKey, s.SigningSecret)
		for _, v := range s.Headers {
			out = append(out, v)
		}
	}
	kept := out[:0]
	for _, v := range out {
		// A value this short is not a secret worth blanking; blanking it would garble text.
		if len(v) >= 8 {
			kept = append(kept, v)
		}
	}
	return kept
}
