package store

import (
	"github.com/hookd/hookd/internal/clip"
	"reflect"

	"github.com/hookd/hookd/hook"
)

// maxRecordString is the longest string a stored record keeps. Okta's values are short; a
// longer one is hostile or broken. The raw event keeps it whole, and the record says so in
// Incomplete. Without the cap a 9 MiB display name is stored twice, and SQLite's allocator
// keeps the memory of its largest row for good.
const maxRecordString = 64 << 10

// clipRecord shortens, in place, every string of rc longer than maxRecordString (rc must be a
// copy: its slices are copied before they are changed). It reports whether it clipped any.
func clipRecord(rc *hook.RoleChange) bool {
	clipped := clipValue(reflect.ValueOf(rc).Elem())
	if clipped {
		rc.Incomplete = append(append([]string(nil), rc.Incomplete...),
			"values longer than 64 KiB were shortened in this record; the raw event has them whole")
	}
	return clipped
}

func clipValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		if v.Len() > maxRecordString {
			v.SetString(clip.Bytes(v.String(), maxRecordString))
			return true
		}
	case reflect.Struct:
		clipped := false
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				clipped = clipValue(f) || clipped
			}
		}
		return clipped
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 || v.Len() == 0 {
			return false // bytes (the raw event) are kept as they are
		}
		long := false
		for i := range v.Len() {
			long = long || hasLong(v.Index(i))
		}
		if !long {
			return false
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(cp, v)
		for i := range cp.Len() {
			clipValue(cp.Index(i))
		}
		v.Set(cp)
		return true
	case reflect.Pointer:
		if !v.IsNil() && hasLong(v.Elem()) {
			cp := reflect.New(v.Type().Elem())
			cp.Elem().Set(v.Elem())
			clipValue(cp.Elem())
			v.Set(cp)
			return true
		}
	}
	return false
}

// hasLong reports whether v holds a string longer than maxRecordString.
func hasLong(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return v.Len() > maxRecordString
	case reflect.Struct:
		for i := range v.NumField() {
			if hasLong(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		for i := range v.Len() {
			if hasLong(v.Index(i)) {
				return true
			}
		}
	case reflect.Pointer:
		return !v.IsNil() && hasLong(v.Elem())
	}
	return false
}
