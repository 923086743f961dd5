// Package alert watches the lag objectives of pipelines: a sink declares
// `lag_slo = '5s'`, and when its pipeline's lag — the age of the oldest
// record its consumer group has not consumed, the greatest over its
// partitions — stays above that, an alert fires; when the lag comes back
// under it, the alert clears.
//
// A Checker runs one loop (Config.Interval, 1 s by default) that
// measures every group's lag — afresh (lag.Monitor.Refresh, which scrapes
// and `tide status` then share) while any pipeline has an objective, from
// the monitor's shared snapshot otherwise, not at all without pipelines —
// and steps one small state machine per pipeline:
//
//	       lag > objective on FireAfter checks in a row
//	ok ──────────────────────────────────────────────► firing
//	   ◄──────────────────────────────────────────────
//	       lag <= objective on ClearAfter checks in a row
//
// Both counts are 2 by default: one slow measurement does not page anyone,
// and a lag hovering at the objective does not flap. A check whose lag is
// unknown (the measurement failed, the group has not committed yet, or a
// lagging partition's oldest record could not be read and what was read
// is not above the objective) leaves the counts as they are. A pipeline
// dropped while firing is resolved.
//
// Firing sets tide_lag_slo_alert_firing{pipeline} to 1, logs a warning
// and, with a webhook URL, posts a JSON Alert (status "firing"); clearing
// sets the gauge to 0, logs at info and posts the same alert with status
// "resolved". Every alert carries a recommendation: the scale-out step
// for the pipeline's backend and shape (Recommend).
//
// Webhook deliveries go through a bounded queue to one sender goroutine,
// in order, each retried with backoff; the checker never waits for them,
// and a full queue drops the oldest-unsent notification with a warning.
// Close stops the loop, then lets the sender finish what is queued until
// its context ends.
//
// All methods of Checker are safe for concurrent use; Active returns a
// copy the caller owns.
package alert
