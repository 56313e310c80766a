//go:build !unix

package repo

func mapBuffer(n int) ([]byte, bool) { return make([]byte, n), false }

func unmapBuffer([]byte) {}
