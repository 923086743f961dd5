package record

import "testing"

// One Record reused across Next calls: a record without headers must not
// keep the previous record's.
func TestIterNextFillsAReusedRecord(t *testing.T) {
	recs := []Record{
		{Key: []byte("k0"), Value: []byte("v0"), Headers: []Header{{Key: "h", Value: []byte("x")}}},
		{Key: nil, Value: nil},
		{Key: []byte("k2"), Value: []byte("v2"), Headers: []Header{{Key: "a", Value: nil}, {Key: "b", Value: []byte{}}}},
	}
	for _, codec := range []Codec{CodecNone, CodecGzip} {
		b, err := AppendBatch(nil, recs, BatchOptions{Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		it, err := NewIter(b, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var r Record
		var headers []Header
		for i := 0; ; i++ {
			var ok bool
			headers, ok, err = it.Next(&r, headers[:0])
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				if i != len(recs) {
					t.Fatalf("%d records", i)
				}
				break
			}
			if len(r.Headers) != len(recs[i].Headers) || (r.Key == nil) != (recs[i].Key == nil) || (r.Value == nil) != (recs[i].Value == nil) {
				t.Errorf("codec %v record %d: %+v", codec, i, r)
			}
		}
		// A corrupt batch: Next's error path leaves no partial record
		// counted as read.
		b[len(b)-1] ^= 0xff
		if _, err := NewIter(b, 1<<20); err == nil {
			t.Errorf("corrupt batch accepted")
		}
	}
}
