package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeOf(time.Duration(0))

// setting is one field of Config that an environment variable can set.
type setting struct {
	env    string
	secret bool
	path   string // "Okta.AuthHeader", as the validator names it after "Config."
	index  []int
}

var settings = func() []setting {
	var out []setting
	var walk func(t reflect.Type, index []int, path string)
	walk = func(t reflect.Type, index []int, path string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int{}, index...), i)
			p := path + f.Name
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, idx, p+".")
				continue
			}
			if env := f.Tag.Get("env"); env != "" {
				out = append(out, setting{env: env, secret: f.Tag.Get("secret") == "true", path: p, index: idx})
			}
		}
	}
	walk(reflect.TypeOf(Config{}), nil, "")
	return out
}()

// envName turns a validator namespace ("Config.Okta.AuthHeader", or with an index for
// lists) into the environment variable that sets it.
func envName(namespace string) string {
	ns := strings.TrimPrefix(namespace, "Config.")
	if i := strings.IndexByte(ns, '['); i >= 0 {
		ns = ns[:i]
	}
	for _, s := range settings {
		if s.path == ns {
			return s.env
		}
	}
	return ns
}

// applyEnv sets every field whose variable is present. A secret may instead come from the
// file named by the variable with _FILE appended; naming both is an error.
func applyEnv(cfg *Config, getenv func(string) (string, bool)) error {
	root := reflect.ValueOf(cfg).Elem()
	var problems []string
	for _, s := range settings {
		value, ok := getenv(s.env)
		if s.secret {
			if file, fok := getenv(s.env + "_FILE"); fok && file != "" {
				if ok {
					problems = append(problems, s.env+" and "+s.env+"_FILE: set one, not both")
					continue
				}
				data, err := readSecretFile(file)
				if err != nil {
					problems = append(problems, s.env+"_FILE: "+err.Error())
					continue
				}
				value, ok = data, true
			}
		}
		if !ok {
			continue
		}
		if err := setField(root.FieldByIndex(s.index), value); err != nil {
			problems = append(problems, s.env+": "+err.Error())
		}
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

func setField(f reflect.Value, value string) error {
	value = strings.TrimSpace(value)
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 30s, 5m)")
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(value)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("must be a whole number")
		}
		f.SetInt(n)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, item := range strings.Split(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

// toolVariables are HOOKD_ variables that hookd's tests, its fault tool and its compose
// files (the image's version) read, not hookd: a machine that runs both has them set.
var toolVariables = []string{"HOOKD_TEST_DATABASE_URL", "HOOKD_FAULT_DEBUG", "HOOKD_SCREENSHOTS", "HOOKD_CHROMIUM",
	"HOOKD_BENCH_CHANGES", "HOOKD_VERSION"}

// UnknownVariables lists, as problems, the HOOKD_ variables of environ (NAME=value pairs,
// as os.Environ gives them) that hookd does not read, each with the closest one it does: a
// misspelt variable would otherwise be ignored without a word, as a YAML key is not.
func UnknownVariables(environ []string) []string {
	known := map[string]bool{}
	var names []string
	for _, s := range settings {
		names = append(names, s.env)
		if s.secret {
			names = append(names, s.env+"_FILE")
		}
	}
	names = append(names, toolVariables...)
	for _, n := range names {
		known[n] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "HOOKD_") || known[name] {
			continue
		}
		problem := name + ": not a variable hookd reads"
		if near := nearest(name, names); near != "" {
			problem += " (did you mean " + near + "?)"
		}
		out = append(out, problem)
	}
	sort.Strings(out)
	return out
}
