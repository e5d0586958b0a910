package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactorBlanksLongestSecretFirst(t *testing.T) {
	r := redactor([]string{"https://hooks.example/T1", "https://hooks.example/T1/B2/secret", "", "https://hooks.example/T1"})
	assert.Equal(t, "post [redacted]: refused; post [redacted] too", r("post https://hooks.example/T1/B2/secret: refused; post https://hooks.example/T1 too"))
	assert.Equal(t, "nothing to hide", redactor(nil)("nothing to hide"))
}
