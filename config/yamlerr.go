package config

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlProblems turns the YAML decoder's errors, which speak of Go types ("field auth_headr
// not found in type config.Okta", "cannot unmarshal !!int `5` into time.Duration"), into
// problems that name the key and its line, and suggest the nearest known key.
func yamlProblems(data []byte, err error) []string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []string{err.Error()}
	}
	keys := keysByLine(data)
	out := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		out = append(out, yamlProblem(e, keys))
	}
	return out
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	badValue     = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

func yamlProblem(msg string, keys map[int]string) string {
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		where := "line " + m[1] + ": unknown key " + strconv.Quote(keyPath(keys[line], m[2]))
		if known := yamlKeysOf(m[3]); len(known) > 0 {
			if near := nearest(m[2], known); near != "" {
				return where + "; did you mean " + strconv.Quote(near) + "?"
			}
			return where + "; known keys here: " + strings.Join(known, ", ")
		}
		return where
	}
	if m := badValue.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		key := keys[line]
		want := map[string]string{
			"time.Duration": "a duration with its unit, such as 5s or 2m",
			"int":           "a whole number", "int64": "a whole number", "float64": "a number",
			"bool": "true or false", "string": "text", "[]string": "a list",
		}[m[4]]
		if want == "" {
			want = "a " + strings.TrimPrefix(m[4], "config.")
		}
		return "line " + m[1] + ": " + key + ": " + strconv.Quote(m[3]) + " is not " + want
	}
	return msg
}

// keyPath is the full key of field under the mapping whose key is parent, as far as the
// line tells: "okta.auth_headr".
func keyPath(parent, field string) string {
	if parent == "" {
		return field
	}
	if i := strings.LastIndex(parent, "."); i >= 0 {
		return parent[:i+1] + field
	}
	return field
}

// keysByLine maps each line of the document to the full key written on it ("http.accept_timeout").
func keysByLine(data []byte) map[int]string {
	var root yaml.Node
	out := map[int]string{}
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return out
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				out[k.Line] = p
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]")
			}
		}
	}
	walk(root.Content[0], "")
	return out
}

// yamlKeysOf lists the YAML keys of a config type named as the decoder names it ("config.Okta").
func yamlKeysOf(typeName string) []string {
	var found reflect.Type
	var visit func(t reflect.Type)
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || found != nil {
			return
		}
		if t.String() == typeName {
			found = t
			return
		}
		for i := range t.NumField() {
			visit(t.Field(i).Type)
		}
	}
	visit(reflect.TypeOf(Config{}))
	if found == nil {
		return nil
	}
	var keys []string
	for i := range found.NumField() {
		name, _, _ := strings.Cut(found.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// nearest returns the known key closest to s, if it is close enough to be a misspelling.
func nearest(s string, known []string) string {
	best, bestDist := "", 1<<30
	for _, k := range known {
		if d := distance(s, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if bestDist <= max(2, len(s)/3) {
		return best
	}
	return ""
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
