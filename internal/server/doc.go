// Package server assembles a Tide node: it opens the log (recovering it),
// starts the consumer group coordinator, the Kafka listener and the HTTP
// server, and owns their lifecycle. Shutdown runs in two steps: stop taking
// work and let in-flight requests finish and be acknowledged, then close
// the coordinator and the log (which writes its clean-shutdown marker).
//
// Configuration comes from defaults, then a YAML file, then TIDE_…
// environment variables, then command-line flags: each later source
// overrides the earlier ones (see Config).
package server
