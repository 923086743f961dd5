package group

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJavaStringHash(t *testing.T) {
	// Values of Java's String.hashCode.
	for s, want := range map[string]int32{
		"":                   0,
		"abc":                96354,
		"hello":              99162322,
		"😀":                  1772899, // a surrogate pair: two UTF-16 units
		"polygenelubricants": -2147483648,
	} {
		if got := javaStringHash(s); got != want {
			t.Errorf("javaStringHash(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	k := offsetKey{group: "g", topic: "orders", partition: 7}
	v := committedOffset{offset: 42, leaderEpoch: 3, metadata: "m", commitTime: 1700000000000}
	gk, gv, ok, err := decodeRecord(encodeKey(k), encodeValue(v))
	if err != nil || !ok || gk != k || *gv != v {
		t.Fatalf("round trip: %+v %+v %v %v", gk, gv, ok, err)
	}
	// A tombstone.
	if _, gv, ok, err := decodeRecord(encodeKey(k), nil); err != nil || !ok || gv != nil {
		t.Fatalf("tombstone: %+v %v %v", gv, ok, err)
	}
	// Older value versions, as Kafka wrote them, decode; v1 and v2 have no
	// leader epoch.
	for version := range int16(5) {
		val := kmsg.OffsetCommitValue{Version: version, Offset: 9, LeaderEpoch: 2, Metadata: "x", CommitTimestamp: 5, ExpireTimestamp: 6}
		_, gv, ok, err := decodeRecord(encodeKey(k), val.AppendTo(nil))
		wantEpoch := int32(2)
		if version < 3 {
			wantEpoch = -1
		}
		if err != nil || !ok || gv.offset != 9 || gv.metadata != "x" || gv.leaderEpoch != wantEpoch {
			t.Fatalf("value v%d: %+v %v %v", version, gv, ok, err)
		}
	}
	// Kafka's group metadata records and unknown key versions are skipped.
	gm := kmsg.GroupMetadataKey{Version: 2, Group: "g"}
	if _, _, ok, err := decodeRecord(gm.AppendTo(nil), []byte{0, 3}); ok || err != nil {
		t.Fatalf("group metadata record: %v %v", ok, err)
	}
	// Damage is reported, not skipped.
	if _, _, _, err := decodeRecord(encodeKey(k)[:5], nil); !errors.Is(err, ErrCorruptOffsets) {
		t.Fatalf("short key: %v", err)
	}
	if _, _, _, err := decodeRecord(encodeKey(k), encodeValue(v)[:9]); !errors.Is(err, ErrCorruptOffsets) {
		t.Fatalf("short value: %v", err)
	}
	if _, _, _, err := decodeRecord(encodeKey(k), []byte{0, 9, 1}); !errors.Is(err, ErrCorruptOffsets) {
		t.Fatalf("unknown value version: %v", err)
	}
}

// FuzzDecodeRecord: any bytes decode without a panic, and what decodes
// re-encodes to something that decodes the same.
func FuzzDecodeRecord(f *testing.F) {
	k := offsetKey{group: "g", topic: "orders", partition: 7}
	f.Add(encodeKey(k), encodeValue(committedOffset{offset: 1, leaderEpoch: -1}))
	f.Add(encodeKey(k), []byte(nil))
	f.Add([]byte{0, 2, 0, 1, 'g'}, []byte{0, 3})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		gk, gv, ok, err := decodeRecord(key, value)
		if err != nil || !ok {
			return
		}
		var again []byte
		if gv != nil {
			again = encodeValue(*gv)
		}
		gk2, gv2, ok2, err := decodeRecord(encodeKey(gk), again)
		if err != nil || !ok2 || gk2 != gk || (gv == nil) != (gv2 == nil) || (gv != nil && *gv != *gv2) {
			t.Fatalf("re-encoding %+v %+v gave %+v %+v %v", gk, gv, gk2, gv2, err)
		}
		if gv != nil && !bytes.Equal(encodeValue(*gv2), again) {
			t.Fatal("encoding is not stable")
		}
	})
}
