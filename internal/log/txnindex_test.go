package log

import (
	"slices"
	"testing"
)

// FuzzDecodeTxnIndex: any bytes decode or fail cleanly, and what decodes
// encodes back to the same bytes and satisfies the checks readers rely on.
func FuzzDecodeTxnIndex(f *testing.F) {
	f.Add(encodeTxnIndex([]abortedEntry{
		{AbortedTxn{1, 100, 105}, 106},
		{AbortedTxn{2, 101, 107}, 108},
	}), int64(100), int64(200))
	f.Add([]byte("short"), int64(0), int64(10))
	f.Add(make([]byte, txnIndexEntrySize), int64(0), int64(1))
	f.Fuzz(func(t *testing.T, b []byte, base, end int64) {
		entries, err := decodeTxnIndex(b, base, end)
		if err != nil {
			return
		}
		if got := encodeTxnIndex(entries); !slices.Equal(got, b) {
			t.Fatalf("round trip changed %x into %x", b, got)
		}
		for i, e := range entries {
			if e.LastOffset < base || e.LastOffset >= end || e.FirstOffset > e.LastOffset || i > 0 && e.LastOffset <= entries[i-1].LastOffset {
				t.Fatalf("accepted entry %d: %+v", i, e)
			}
		}
	})
}

func TestAbortedLookup(t *testing.T) {
	m := newAbortedLookup([]AbortedTxn{{1, 10, 15}, {2, 12, 20}, {1, 16, 18}, {1, 30, 40}})
	for _, tc := range []struct {
		producer, base int64
		want           bool
	}{
		{1, 9, false}, {1, 10, true}, {1, 14, true}, {1, 15, true}, // the marker's own offset
		{1, 16, true}, {1, 19, false}, {1, 29, false}, {1, 35, true}, {1, 41, false},
		{2, 11, false}, {2, 12, true}, {2, 21, false}, {3, 12, false},
	} {
		if got := m.aborted(tc.producer, tc.base); got != tc.want {
			t.Errorf("aborted(%d, %d) = %v", tc.producer, tc.base, got)
		}
	}
	if abortedLookup(nil).aborted(1, 1) {
		t.Error("an empty lookup aborted something")
	}
}
