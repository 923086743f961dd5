// Package embeddedtest stands up Tide's embedded log, its group
// coordinator and the embedded transport over them for other packages'
// tests: one helper instead of a copy in each.
package embeddedtest
