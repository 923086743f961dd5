// Package lag measures consumer lag on any transport: for every consumer
// group, per partition it has committed, how many records lie between
// its committed offset and the end of the partition, and how old the
// oldest of them is — the age of the oldest unconsumed record, which is
// what a lag objective in seconds means.
//
// Measure reads the transport's groups (transport.Transport.Groups), the
// end offsets of their topics, and one record per lagging partition for
// its timestamp (ReadAt). A Monitor caches a measurement for a short
// while, so that a Prometheus scrape, `tide status` and the lag objectives
// share one set of reads.
package lag
