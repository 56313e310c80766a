// Package version holds the build's version, recorded on every snapshot so a
// restore knows which tool wrote it.
package version

// Version is overridden at build time with -ldflags "-X lifeboat/internal/version.Version=...".
var Version = "0.1.0-dev"
