package hookd

import "embed"

// Samples are the sample deliveries, under testdata/payloads.
//
//go:embed testdata/payloads/*.json
var Samples embed.FS
