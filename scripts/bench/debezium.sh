#!/usr/bin/env bash
# Builds the Debezium baseline of `tide bench cdc --debezium DIR`: the Maven
# project in scripts/bench/debezium/ (DebeziumBench, Debezium's embedded
# engine with the Postgres connector) into .tools/debezium-bench-<version>/:
#
#   lib/*.jar         the program and every runtime dependency, from Maven Central
#   debezium-bench    the launcher: java $DEBEZIUM_BENCH_JAVA_OPTS -cp 'lib/*' ...
#   build/            Maven's target directory
#
#   scripts/bench/debezium.sh           build if needed; print DIR (for --debezium)
#   scripts/bench/debezium.sh command   build if needed; print the java command
#
# The version is debezium.version in scripts/bench/debezium/pom.xml. Maven's
# downloads are cached in .tools/m2 (as scripts/peers/ does): a rebuild tries
# `mvn -o` first, so it needs the network only for what the cache lacks. DIR
# is rebuilt only when the pom, the sources or this script change.
#
# The JVM: $DEBEZIUM_BENCH_JAVA_OPTS, default -Xms2g -Xmx2g -XX:+UseG1GC (a
# fixed heap, so that neither heap growth nor a small heap's collections
# count against Debezium); Java 17 or later.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools="$root/.tools"
src="$here/debezium"
pom="$src/pom.xml"
version=$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$pom")
[ -n "$version" ] || { echo "debezium.sh: no debezium.version in $pom" >&2; exit 1; }
home="$tools/debezium-bench-$version"
main=dev.tide.bench.DebeziumBench
default_opts="-Xms2g -Xmx2g -XX:+UseG1GC"

die() { echo "debezium.sh: $*" >&2; exit 1; }

# content_hash: one hash over the sources, the pom and this script.
content_hash() {
	(cd "$here" && find debezium/pom.xml debezium/src debezium.sh -type f -print0 |
		LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

build() {
	local want
	want=$(content_hash)
	if [ "$(cat "$home/.complete" 2>/dev/null)" = "$want" ] && [ -x "$home/debezium-bench" ]; then
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found (Maven builds the Debezium baseline)"
	command -v java >/dev/null || die "java not found (Debezium $version needs Java 17+)"
	mkdir -p "$home"
	(
		# Two concurrent builds must not both write lib/.
		if command -v flock >/dev/null; then flock 9; fi
		[ "$(cat "$home/.complete" 2>/dev/null)" = "$want" ] && [ -x "$home/debezium-bench" ] && exit 0
		echo "debezium.sh: building the Debezium $version baseline into $home" >&2
		rm -rf "$home/lib.tmp" "$home/.complete"
		local mvn=(mvn -B -q -f "$pom" -Dmaven.repo.local="$tools/m2" -Dtide.build.dir="$home/build"
			clean package dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$home/lib.tmp")
		# Offline first: a warm cache needs no network.
		if ! "${mvn[@]}" -o >"$home/build.log" 2>&1; then
			rm -rf "$home/lib.tmp"
			if ! "${mvn[@]}" >"$home/build.log" 2>&1; then
				tail -n 40 "$home/build.log" >&2
				die "mvn package failed (log: $home/build.log)"
			fi
		fi
		cp "$home/build/debezium-bench.jar" "$home/lib.tmp/"
		[ -f "$home/lib.tmp/debezium-embedded-$version.jar" ] || die "debezium-embedded-$version.jar missing after mvn"
		rm -rf "$home/lib" && mv "$home/lib.tmp" "$home/lib"
		cat >"$home/debezium-bench" <<EOF
#!/bin/sh
# Written by scripts/bench/debezium.sh: Debezium $version's embedded engine
# timed against one table; see $src.
# DEBEZIUM_BENCH_JAVA_OPTS replaces the JVM options ($default_opts).
here=\$(cd "\$(dirname "\$0")" && pwd)
java=java
[ -n "\${JAVA_HOME:-}" ] && java="\$JAVA_HOME/bin/java"
exec "\$java" \${DEBEZIUM_BENCH_JAVA_OPTS:-$default_opts} -cp "\$here/lib/*" $main "\$@"
EOF
		chmod +x "$home/debezium-bench"
		echo "$want" >"$home/.complete"
	) 9>"$home.lock"
}

case "${1:-build}" in
build)
	build
	echo "$home"
	;;
command)
	build
	echo "java ${DEBEZIUM_BENCH_JAVA_OPTS:-$default_opts} -cp '$home/lib/*' $main"
	;;
version) echo "$version" ;;
*) die "usage: debezium.sh [build | command | version]" ;;
esac
