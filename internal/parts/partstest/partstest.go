// Package partstest helps tests of work shared with package parts.
package partstest

import (
	"runtime"
	"testing"
)

// TwoProcessors lets parts.Of share work for the rest of t on a one-processor machine too:
// it raises GOMAXPROCS to 2 when it is lower, and restores it when t ends.
func TwoProcessors(t testing.TB) {
	if runtime.GOMAXPROCS(0) < 2 {
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
}
