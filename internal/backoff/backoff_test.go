package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDoubling(t *testing.T) {
	d := Doubling{Base: 5 * time.Second, Cap: 5 * time.Minute}
	assert.Equal(t, 5*time.Second, d.Nominal(1))
	assert.Equal(t, 10*time.Second, d.Nominal(2))
	assert.Equal(t, 160*time.Second, d.Nominal(6))
	assert.Equal(t, 5*time.Minute, d.Nominal(7))
	assert.Equal(t, 5*time.Minute, d.Nominal(1000), "no overflow")
	for range 100 {
		j := d.Jittered(2)
		assert.True(t, j >= 7500*time.Millisecond && j <= 12500*time.Millisecond, j)
	}
}
