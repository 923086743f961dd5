// Package nexmarksql holds the Nexmark benchmark's queries as SQL files a
// user runs as they are (tide sql -f examples/nexmark/q1.sql), and gives
// them to `tide bench nexmark`, which runs the same SELECTs over its own
// sources (the generator in process, or the events read from the log).
package nexmarksql
