package hook

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryWireFieldIsDecoded: a LogEvent with every field of the wire types set, to a value
// of its own, is encoded by encoding/json and decoded by hookd's reader; the two must agree.
// A field tagged in wire.go that the reader never fills fails here, by name.
func TestEveryWireFieldIsDecoded(t *testing.T) {
	var want LogEvent
	n := 0
	fill(reflect.ValueOf(&want).Elem(), &n)
	doc, err := json.Marshal(&want)
	require.NoError(t, err)

	got, problem := Event{UUID: want.UUID, EventType: want.EventType, Published: want.Published, Raw: doc}.LogEvent()
	require.Nil(t, problem)
	compare(t, "LogEvent", reflect.ValueOf(want), reflect.ValueOf(got))
	assert.Greater(t, n, 60, "the wire types have that many fields")
}

// fill sets every field under v to a value no other field has.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("v%d", *n))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 20, 14, 0, *n%60, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage{}) {
			v.SetBytes([]byte(fmt.Sprintf(`{"k%d":"v"}`, *n)))
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), n)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		key := reflect.New(v.Type().Key()).Elem()
		key.SetString(fmt.Sprintf("key%d", *n))
		val := reflect.New(v.Type().Elem()).Elem()
		fill(val, n)
		m.SetMapIndex(key, val)
		v.Set(m)
	}
}

// compare reports each field that differs, by its path.
func compare(t *testing.T, path string, want, got reflect.Value) {
	t.Helper()
	switch want.Kind() {
	case reflect.Pointer:
		if got.IsNil() {
			t.Errorf("%s: not decoded", path)
			return
		}
		compare(t, path, want.Elem(), got.Elem())
	case reflect.Struct:
		if want.Type() == reflect.TypeOf(time.Time{}) {
			assert.True(t, want.Interface().(time.Time).Equal(got.Interface().(time.Time)), "%s: %v, want %v", path, got, want)
			return
		}
		for i := range want.NumField() {
			if want.Type().Field(i).IsExported() {
				compare(t, path+"."+want.Type().Field(i).Name, want.Field(i), got.Field(i))
			}
		}
	case reflect.Slice:
		if want.Type() == reflect.TypeOf(json.RawMessage{}) {
			assert.JSONEq(t, string(want.Bytes()), string(got.Bytes()), "%s", path)
			return
		}
		if got.Len() != want.Len() {
			t.Errorf("%s: %d elements, want %d", path, got.Len(), want.Len())
			return
		}
		for i := range want.Len() {
			compare(t, fmt.Sprintf("%s[%d]", path, i), want.Index(i), got.Index(i))
		}
	case reflect.Map:
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				t.Errorf("%s[%v]: not decoded", path, k)
				continue
			}
			compare(t, fmt.Sprintf("%s[%v]", path, k), want.MapIndex(k), g)
		}
	default:
		assert.Equal(t, want.Interface(), got.Interface(), "%s", path)
	}
}
