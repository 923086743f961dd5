package record

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Golden vectors from Apache Kafka's UtilsTest.testMurmur2.
func TestMurmur2KafkaVectors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		if got := Murmur2([]byte(c.in)); got != c.want {
			t.Errorf("Murmur2(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestPartitionForKeyMatchesKgo uses franz-go's Kafka-compatible key
// partitioner as the oracle, over every key length 0..70 (all tail cases)
// and random partition counts.
func TestPartitionForKeyMatchesKgo(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	oracle := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := range 20000 {
		key := make([]byte, i%71)
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		n := int32(1 + rng.IntN(10000))
		if i%5 == 0 {
			n = int32(1 + rng.IntN(8))
		}
		want := oracle.Partition(&kgo.Record{Key: key}, int(n))
		if got := PartitionForKey(key, n); int(got) != want {
			t.Fatalf("key %x, %d partitions: got %d, kgo %d", key, n, got, want)
		}
	}
}

func TestPartitionForKeyRange(t *testing.T) {
	for _, n := range []int32{1, 2, 7, 1 << 30} {
		for _, k := range []string{"", "a", "negative-hash?", "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"} {
			if p := PartitionForKey([]byte(k), n); p < 0 || p >= n {
				t.Fatalf("PartitionForKey(%q, %d) = %d", k, n, p)
			}
		}
	}
}
