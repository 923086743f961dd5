//go:build !(linux && (amd64 || arm64))

package vfs

// Sync is the plain fsync where Linux AIO (aiosync_linux.go) is not used.
func (f osFile) Sync() error { return f.File.Sync() }
