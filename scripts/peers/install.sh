#!/usr/bin/env bash
# Installs the client peers of Tide's interop tests (test/interop) that are
# missing, so a fresh machine needs nothing done by hand:
#
#   kcat                      Debian package (apt-get update only if needed)
#   prometheus                Debian package, the server (test/interop scrapes Tide with it)
#   test/node/node_modules    npm ci from the committed package-lock.json (kafkajs)
#   test/java/target/scenarios.jar
#                             mvn package of test/java (kafka-clients 4.x),
#                             rebuilt only when test/java's sources change
#   .tools/kafka-<v>/libs     the broker's jars (scripts/peers/kafka.sh fetch)
#
# Downloads are cached under .tools/ (Maven: .tools/m2, npm: .tools/npm-cache).
# A peer that cannot be installed is an error under CI=true; locally it is a
# loud warning, and the tests that need it skip saying so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"
failed=()

say() { echo "install.sh: $*" >&2; }
missing() {
	failed+=("$1")
	say "WARNING: $1 not installed: $2"
}
quiet() { # quiet LOG CMD...: run CMD with its output in LOG, shown only on failure
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		return 1
	fi
}

# apt_peer COMMAND PACKAGE: install a Debian package unless COMMAND is on
# PATH (apt-get update only if the install fails).
apt_peer() {
	local command=$1 package=$2
	if command -v "$command" >/dev/null; then
		return
	elif ! command -v apt-get >/dev/null; then
		missing "$package" "no apt-get here; install $package yourself"
		return
	fi
	local sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo -n)
	export DEBIAN_FRONTEND=noninteractive
	say "installing $package with apt-get"
	if ! quiet "$tools/apt-$package.log" "${sudo[@]}" apt-get install -y -q --no-install-recommends "$package"; then
		# Package lists missing or stale: update once and retry.
		quiet "$tools/apt-update.log" "${sudo[@]}" apt-get update -q || true
		quiet "$tools/apt-$package.log" "${sudo[@]}" apt-get install -y -q --no-install-recommends "$package" ||
			missing "$package" "apt-get install $package failed (log: $tools/apt-$package.log)"
	fi
}

# kcat, from Debian's packages.
apt_peer kcat kcat
# Prometheus, from Debian's packages: test/interop's TestPrometheusScrapesLag
# runs the binary as a process of its own, with its own config, storage and
# port (up.sh prints TIDE_TEST_PROMETHEUS_BIN); the packaged service is not
# used.
apt_peer prometheus prometheus

# content_hash DIR FILE...: one hash over the named files under DIR.
content_hash() {
	local dir=$1
	shift
	(cd "$dir" && find "$@" -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# kafkajs, for test/node/scenarios.js.
node_dir="$root/test/node"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	missing kafkajs "node and npm are needed"
else
	want=$(content_hash "$node_dir" package.json package-lock.json)
	if [ "$(cat "$node_dir/node_modules/.tide-hash" 2>/dev/null)" != "$want" ]; then
		say "npm ci in test/node"
		if (cd "$node_dir" && quiet "$tools/npm-ci.log" npm ci --no-audit --no-fund --cache "$tools/npm-cache"); then
			echo "$want" >"$node_dir/node_modules/.tide-hash"
		else
			missing kafkajs "npm ci failed (log: $tools/npm-ci.log)"
		fi
	fi
fi

# The Java client scenarios jar.
java_dir="$root/test/java"
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
	missing scenarios.jar "java and mvn are needed"
else
	want=$(content_hash "$java_dir" pom.xml src)
	if [ ! -f "$java_dir/target/scenarios.jar" ] || [ "$(cat "$java_dir/target/.tide-hash" 2>/dev/null)" != "$want" ]; then
		say "mvn package in test/java"
		if (cd "$java_dir" && quiet "$tools/mvn-java-scenarios.log" \
			mvn -B -q -Dmaven.repo.local="$tools/m2" clean package); then
			echo "$want" >"$java_dir/target/.tide-hash"
		else
			missing scenarios.jar "mvn package failed (log: $tools/mvn-java-scenarios.log)"
		fi
	fi
fi

# The broker's jars (kafka.sh start fetches them too; doing it here lets
# install.sh warm every cache).
if ! quiet "$tools/kafka-fetch.log" "$here/kafka.sh" fetch; then
	missing "Apache Kafka" "kafka.sh fetch failed (log: $tools/kafka-fetch.log)"
fi

if [ ${#failed[@]} -gt 0 ]; then
	if [ "${CI:-}" = true ]; then
		say "FAILED under CI=true: ${failed[*]}"
		exit 1
	fi
	say "continuing without: ${failed[*]} (the tests that need them will skip)"
fi
exit 0
