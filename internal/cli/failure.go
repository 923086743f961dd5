package cli

import "sync"

// firstFailure keeps the first error reported to it and closes failed at
// that moment, so every goroutine of a pipeline (readers, appenders,
// acknowledgement callbacks) can stop at the first failure. Embed it.
type firstFailure struct {
	failed chan struct{} // closed with the first failure
	errMu  sync.Mutex
	err    error
}

func newFirstFailure() firstFailure { return firstFailure{failed: make(chan struct{})} }

// fail records err unless an earlier failure was recorded.
func (f *firstFailure) fail(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	if f.err == nil {
		f.err = err
		close(f.failed)
	}
}

// failure returns the first failure, or nil.
func (f *firstFailure) failure() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}
