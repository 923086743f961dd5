// Package eventtime holds the event-time rules the stateful operators
// share: which windows an event belongs to (TUMBLE, HOP, SESSION), and
// the watermark — how far event time has surely progressed — over the
// inputs of an operator.
//
// Times are microseconds since the Unix epoch, as Tide's timestamps are.
// A window is [Start, End): an event at End belongs to the next one.
//
// # Watermarks
//
// Each input (an input partition) has its own watermark: the greatest
// value the source's WATERMARK expression gave for its events so far
// (`ts - INTERVAL '5' SECOND`: events are taken to be at most five
// seconds out of order within a partition). The operator's watermark is
// the minimum over its inputs, as in Flink, so that a slow partition
// holds results back instead of making its events late. An input that
// has sent nothing for the idle timeout stops counting until it sends
// again, so a quiet partition does not stall results for ever; when
// every input is idle the watermark stays where it was. The operator's
// watermark never moves back, even when an idle input comes back behind
// it: its events are then late.
//
// An event is late when the window it belongs to has already ended at
// the operator's watermark (End <= watermark): its result was emitted.
// The caller applies the source's late-data policy (drop and count, or a
// side topic).
package eventtime
