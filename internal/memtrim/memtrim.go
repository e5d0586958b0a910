// Package memtrim hands memory back to the operating system once a burst of large work is
// over: large deliveries coming in, large events going out to the sinks. Go's runtime keeps
// freed pages for reuse for minutes, which after such a burst looks like a leak from outside.
package memtrim

import (
	"runtime/debug"
	"sync"
	"time"
)

// Large is the size from which a piece of work counts as large.
const Large = 1 << 20

// Trimmer counts large work in flight and, once none has been in flight for its quiet time,
// runs its trim functions and returns free memory to the OS. A nil *Trimmer does nothing.
type Trimmer struct {
	quiet time.Duration
	// free returns memory to the OS: debug.FreeOSMemory; tests count calls instead.
	free func()

	mu       sync.Mutex
	trim     []func()
	inFlight int
	timer    *time.Timer
}

// New returns a Trimmer that trims once quiet has passed with no large work in flight; what
// OnTrim adds runs first.
func New(quiet time.Duration) *Trimmer {
	return &Trimmer{quiet: quiet, free: debug.FreeOSMemory}
}

// OnTrim adds f to what runs before memory is returned: a store letting go of the buffers
// it grew, for example.
func (t *Trimmer) OnTrim(f func()) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.trim = append(t.trim, f)
	t.mu.Unlock()
}

// Begin notes large work starting; the returned function notes its end and must be called
// once.
func (t *Trimmer) Begin() (end func()) {
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	t.inFlight++
	t.mu.Unlock()
	var once sync.Once
	return func() { once.Do(t.end) }
}

// Size is Begin for work of size bytes: only large work is counted.
func (t *Trimmer) Size(size int64) (end func()) {
	if size < Large {
		return func() {}
	}
	return t.Begin()
}

func (t *Trimmer) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inFlight--
	if t.inFlight > 0 {
		return
	}
	if t.timer == nil {
		t.timer = time.AfterFunc(t.quiet, t.fire)
		return
	}
	t.timer.Reset(t.quiet)
}

// fire trims unless large work began again meanwhile (its end re-arms the timer).
func (t *Trimmer) fire() {
	t.mu.Lock()
	idle, trim := t.inFlight == 0, t.trim
	t.mu.Unlock()
	if !idle {
		return
	}
	for _, f := range trim {
		f()
	}
	t.free()
}
