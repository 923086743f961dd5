package log

import (
	"io/fs"
	"sync/atomic"

	"github.com/tide-data/tide/internal/vfs"
)

// countingFS counts fsyncs of files.
type countingFS struct {
	vfs.FS
	syncs atomic.Int64
}

func newCountingFS() *countingFS { return &countingFS{FS: vfs.Default} }

func (c *countingFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return countingFile{File: f, fs: c}, nil
}

type countingFile struct {
	vfs.File
	fs *countingFS
}

func (f countingFile) Sync() error {
	f.fs.syncs.Add(1)
	return f.File.Sync()
}
