package jsonscan

import (
	"encoding/json"
	"testing"
)

// FuzzValue: the reader accepts exactly what encoding/json accepts as one JSON value.
func FuzzValue(f *testing.F) {
	for _, seed := range []string{`{"a":[1,2.5e3,"x\u00e9",true,null]}`, `"\ud800"`, `[`, `{"a":1,}`, "\"\xff\"", "{\"\xff\":\"\xe2\x82\"}", `{"a":1,"a":2}`, `1 2`, "{\"a\":1}\x00", ``} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := New(string(data))
		r.Value()
		r.End()
		if ok := r.Err() == nil; ok != json.Valid(data) {
			t.Fatalf("reader says valid=%v, encoding/json says %v, for %q", ok, !ok, data)
		}
	})
}
