// Command tide is Tide's single binary: the server, the CLI and the
// benchmarks. The command tree lives in internal/cli.
package main

import (
	"os"

	"github.com/tide-data/tide/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
