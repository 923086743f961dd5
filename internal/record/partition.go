package record

import "encoding/binary"

// Murmur2 is the Java client's murmur2 hash (org.apache.kafka.common.utils.
// Utils.murmur2, seed 0x9747b28c), which places keyed records on
// partitions. Like Java it returns a signed int32.
func Murmur2(data []byte) int32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(data))
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// PartitionForKey is the partition Kafka's default partitioner picks for a
// record with this key: the murmur2 hash with the sign bit cleared, modulo
// numPartitions. A null key is not hashed by Kafka (such records go to a
// sticky or round-robin partition), so callers decide that case; a nil key
// here hashes like an empty one. numPartitions must be positive.
func PartitionForKey(key []byte, numPartitions int32) int32 {
	if numPartitions <= 0 {
		panic("record: PartitionForKey needs a positive partition count")
	}
	return int32(uint32(Murmur2(key))&0x7fffffff) % numPartitions
}
