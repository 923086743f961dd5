package log

import (
	"errors"
	"sync"
)

// ioParallelism is how many partitions open or close at once. Their I/O
// (reads at open, fsyncs at close) overlaps well on SSDs, and a bound keeps
// ten thousand partitions from starting ten thousand goroutines.
const ioParallelism = 8

// forEachParallel calls fn(i) for i in [0, n) on at most ioParallelism
// goroutines and returns every error, joined.
func forEachParallel(n int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range min(n, ioParallelism) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
