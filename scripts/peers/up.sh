#!/usr/bin/env bash
# Brings up the test peers: installs the client peers (install.sh), starts a
# real Apache Kafka broker in .tools/run/kafka (kafka.sh) and a throw-away
# PostgreSQL in .tools/run/postgres (postgres.sh), reusing ones already
# running there. Prints, on stdout and nothing else, the lines that point
# the tests at them:
#
#   eval "$(scripts/peers/up.sh)"      # then: go test ./test/interop/
#
# scripts/peers/down.sh stops them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$here/install.sh" >&2
bootstrap=$("$here/kafka.sh" start "$root/.tools/run/kafka")
pgurl=$("$here/postgres.sh" start "$root/.tools/run/postgres")
echo "export TIDE_TEST_KAFKA_BOOTSTRAP=$bootstrap"
echo "export TIDE_TEST_POSTGRES_URL='$pgurl'"
# The Prometheus server install.sh installed (Debian package), if it did.
if prom=$(command -v prometheus); then
	echo "export TIDE_TEST_PROMETHEUS_BIN=$prom"
fi
