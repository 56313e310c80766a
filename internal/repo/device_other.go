//go:build !unix

package repo

import "io/fs"

func device(fs.FileInfo) (uint64, bool) { return 0, false }
