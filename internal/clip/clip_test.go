package clip

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestBytes(t *testing.T) {
	assert.Equal(t, "short", Bytes("short", 10))
	assert.Equal(t, "abc…", Bytes("abcdef", 3))
	cut := Bytes(strings.Repeat("é", 10), 5) // two bytes a rune: never half of one
	assert.True(t, utf8.ValidString(cut))
	assert.Equal(t, "éé…", cut)
}

func TestRunes(t *testing.T) {
	assert.Equal(t, "héllo", Runes("héllo", 5))
	assert.Equal(t, "hél…", Runes("héllo!", 4))
	assert.Equal(t, 150, utf8.RuneCountInString(Runes(strings.Repeat("😀", 400), 150)))
	assert.Equal(t, "", Runes("abc", 0))
}
