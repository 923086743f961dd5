// Package transporttest is the conformance suite every transport.Transport
// passes: Run(t, newTransport) runs it as parallel subtests, each on a
// transport of its own from newTransport, so that the embedded transport,
// the Kafka transport over Tide's listener and the Kafka transport over
// Apache Kafka are held to the same behaviour (franz-go runs its client
// suite against kfake, Kafka and Redpanda alike).
//
// # What it checks
//
//   - Topics: CreateTopic (with configs, and with the default partition
//     count), ErrTopicExists, Topic, ErrTopicNotFound, Topics sorted and
//     without internal "__" topics, DeleteTopic, deleting a missing topic.
//   - Produce: to an explicit partition (and refusing one out of range or a
//     missing topic); keyed records on Kafka's default partition
//     (record.PartitionForKey, murmur2); unkeyed records on some partition;
//     Partition and Offset set on every record, offsets in order within a
//     partition; headers (repeated keys, in order) and timestamps (given,
//     and zero meaning now) round-trip; EndOffsets; a 10,000-record call;
//     concurrent calls from several goroutines.
//   - Consumers: a new group reads everything from StartEarliest in offset
//     order per partition, and only new records from StartLatest; Commit
//     then Committed report exactly what was committed, and a new member of
//     the group resumes there; two members split the partitions with no
//     record read twice, and when one closes (OnRevoked for what it held)
//     the other gets its partitions (OnAssigned) and reads on from the
//     commits made in OnRevoked; Poll returns ctx.Err() on a deadline or a
//     cancelled context, wakes when a record arrives, and returns ErrClosed
//     after Close, which calls OnRevoked once.
//   - ReadAt: the last record of each partition of a two-partition topic
//     (key, value, headers, timestamp, offset) at end-1, records from 0 on
//     in order, from any offset inside a batch of several records on (the
//     earlier records of the batch skipped), one single-record batch at
//     maxBytes 1, nothing at or past the end and without waiting, nothing
//     in an empty partition, ErrTopicNotFound for a missing topic or
//     partition, records the caller may modify; after DeleteRecords (which
//     moves the start offset, changes nothing at or below it, and answers
//     ErrOffsetOutOfRange past the end and ErrTopicNotFound for a missing
//     topic), ErrOffsetOutOfRange below the log start and the records from a
//     log start inside a batch.
//   - Transactions: a committed transaction's records are polled by a new
//     group and read by ReadAt at the offsets Produce set, and its offsets
//     become the group's (a member of the group resumes there); a
//     transaction may commit offsets without records, or records without
//     offsets. Aborted records are never polled nor read (ReadAt starting
//     on them, also one batch at a time, skips to the next committed one)
//     and leave the group's offsets as they were. An open transaction holds
//     consumers and ReadAt back at its first record, non-transactional
//     records after it too, until it commits; EndOffsets still reports the
//     high watermark. A second NewTxnProducer of an id aborts the first's
//     open transaction at once (within 5s, less than the transaction
//     timeout) and fences it: its Produce, Commit (with and without
//     records) and Begin return ErrFenced. Close aborts the open
//     transaction at once, and the id works again afterwards.
//   - Throughout, every member checks the ordering contracts as it polls:
//     no record of a partition before OnAssigned for it or after OnRevoked,
//     offsets rising within an assignment, OnAssigned and OnRevoked only
//     for partitions not held and held.
//
// Names are unique per run (the test name and random hex) and topics are
// deleted when their test ends, so a shared broker serves many runs.
// Waits are bounded (30s); the suite takes about a second on the embedded
// transport and a few on a local Kafka broker.
package transporttest
