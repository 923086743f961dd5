package connector

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// datagenGoldenSum is the SHA-256 of the records TestDatagenGoldenHash
// generates. It pins the generator's output for a seed and a clock: an
// optimisation of the generator must leave it unchanged. (Changing what
// a seed generates on purpose is allowed; then update it and say so.)
const datagenGoldenSum = "8a76fc59cd51686056de06a57f60e5934208952d38c0dae4b21c605abe2b6b81"

// TestDatagenGoldenHash hashes 5,000 rows of every column type the
// generator knows, over two partitions, with a clock in microseconds.
func TestDatagenGoldenHash(t *testing.T) {
	cols := []format.Column{
		{Name: "id", Type: types.KindInt8}, {Name: "small", Type: types.KindInt2}, {Name: "n", Type: types.KindInt4},
		{Name: "amount", Type: types.KindFloat8}, {Name: "price", Type: types.KindNumeric},
		{Name: "name", Type: types.KindText}, {Name: "code", Type: types.KindText}, {Name: "status", Type: types.KindText},
		{Name: "raw", Type: types.KindBytea}, {Name: "ok", Type: types.KindBool},
		{Name: "ts", Type: types.KindTimestamp}, {Name: "tstz", Type: types.KindTimestampTZ}, {Name: "day", Type: types.KindDate},
		{Name: "wait", Type: types.KindInterval}, {Name: "doc", Type: types.KindJSON}, {Name: "seq_text", Type: types.KindText},
	}
	opts := map[string]string{
		"rows-per-second": "0", "number-of-rows": "5000", "seed": "7", "partitions": "2",
		"fields.id.kind": "sequence", "fields.small.min": "-5", "fields.small.max": "5",
		"fields.amount.min": "-10", "fields.amount.max": "1000", "fields.price.max": "99.99",
		"fields.name.length": "12", "fields.code.null-rate": "0.25", "fields.status.values": "created,paid,shipped",
		"fields.raw.length": "4", "fields.ok.null-rate": "0.1", "fields.seq_text.kind": "sequence",
	}
	clock := func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC) }
	src, err := NewSource("datagen", cols, opts, Env{Group: "g", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var n [8]byte
	for _, m := range readAll(t, src) {
		h.Write(m.Value)
		binary.LittleEndian.PutUint64(n[:], uint64(m.Timestamp.UnixMicro()))
		h.Write(n[:])
		binary.LittleEndian.PutUint64(n[:], uint64(m.Origin.Partition)<<48|uint64(m.Origin.Offset))
		h.Write(n[:])
		h.Write([]byte(m.Origin.Topic))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != datagenGoldenSum {
		t.Errorf("generated records hash to %s, want %s", got, datagenGoldenSum)
	}
}
