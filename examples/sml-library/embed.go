// Package smllibrary is the Smart Library Booking System's Lifeboat
// configuration, embedded so a binary installed alone can print it
// (`lifeboat config example --sml-library`) without this source tree.
package smllibrary

import _ "embed"

// Config is examples/sml-library/lifeboat.yaml as shipped.
//
//go:embed lifeboat.yaml
var Config []byte
