//go:build unix

package repo

import "syscall"

// mapBuffer allocates n bytes outside the Go heap; mapped is false when it
// fell back to the heap.
func mapBuffer(n int) (b []byte, mapped bool) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), false
	}

	return b, true
}

func unmapBuffer(b []byte) { _ = syscall.Munmap(b[:cap(b)]) }
