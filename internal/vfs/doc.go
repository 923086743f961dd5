// Package vfs is the filesystem seam under Tide's storage engine.
//
// The log never calls the os package directly: it goes through an FS, so
// tests can inject the faults a real disk produces (ENOSPC part-way through
// a write, a failing fsync) and check that nothing acknowledged is lost.
//
// Default is the real filesystem. On Linux its files fsync through AIO
// (aiosync_linux.go): the kernel runs the fsync while the goroutine waits
// in the netpoller, so an fsync does not hold one of the Go scheduler's Ps
// for its duration. FaultFS wraps any FS and fails writes or
// syncs on demand; it is safe for concurrent use and its faults can be
// cleared at run time, the way a full disk is freed by an operator.
package vfs
