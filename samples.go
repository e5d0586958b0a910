// Package hookd holds what the hookd binary carries besides its code: the sample Okta
// deliveries of testdata/payloads, so that hookd replay works from any folder and in the
// container.
package hookd

import "embed"

// Samples are the sample deliveries, under testdata/payloads.
//
//go:embed testdata/payloads/*.json
var Samples embed.FS
