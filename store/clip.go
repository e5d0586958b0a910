package store

import (
	"reflect"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/clip"
)

// maxRecordString is the longest string a stored record keeps. Okta's values are short; a
// longer one is hostile or broken. The raw event keeps it whole, and the record says so in
// Incomplete. Without the cap a huge display name is stored twice, and SQLite's allocator
// keeps the memory of its largest row for good.
const maxRecordString = 64 << 10

// clipRecord shortens, in place, every string of rc longer than maxRecordString, and says so
// in rc.Incomplete (rc must be a copy: its slices are copied before they are changed).
func clipRecord(rc *hookd.RoleChange) {
	if clipValue(reflect.ValueOf(rc).Elem(), true) {
		rc.Incomplete = append(append([]string(nil), rc.Incomplete...),
			"values longer than 64 KiB were shortened in this record; the raw event has them whole")
	}
}

// clipValue reports whether v holds a string longer than maxRecordString and, when set is
// true, shortens them, each slice or pointer on the way a copy. Bytes (the raw event) are
// kept as they are.
func clipValue(v reflect.Value, set bool) bool {
	switch v.Kind() {
	case reflect.String:
		if v.Len() <= maxRecordString {
			return false
		}
		if set {
			v.SetString(clip.Bytes(v.String(), maxRecordString))
		}
		return true
	case reflect.Struct:
		long := false
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() || !set {
				long = clipValue(f, set) || long
			}
		}
		return long
	case reflect.Slice:
		long := false
		for i := 0; i < v.Len() && !long && v.Type().Elem().Kind() != reflect.Uint8; i++ {
			long = clipValue(v.Index(i), false)
		}
		if long && set {
			cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(cp, v)
			for i := range cp.Len() {
				clipValue(cp.Index(i), true)
			}
			v.Set(cp)
		}
		return long
	case reflect.Pointer:
		if v.IsNil() || !clipValue(v.Elem(), false) {
			return false
		}
		if set {
			cp := reflect.New(v.Type().Elem())
			cp.Elem().Set(v.Elem())
			clipValue(cp.Elem(), true)
			v.Set(cp)
		}
		return true
	}
	return false
}
