#!/bin/sh
# Runs the mybuild benchmarks on a Debian 12 machine, as root, with no
# internet beyond Debian's mirror and the Go module proxy: installs what is
# missing, builds mybuild, prepares the inputs (busybox-static, a
# debootstrap minbase Debian, Go's own src tree) once under
# /var/tmp/mybuild-bench,
# and prints the medians as a markdown table; the JSON goes to
# bench/results/latest.json. Extra arguments go to the driver, e.g.
#   bench/run.sh -runs 3 -only monorepo,steps
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=""
for pkg in busybox-static:/bin/busybox umoci:/usr/bin/umoci debootstrap:/usr/sbin/debootstrap; do
	[ -e "${pkg#*:}" ] || need="$need ${pkg%%:*}"
done
if [ -n "$need" ]; then
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $need ca-certificates >/dev/null
fi
.ci/install-go
export PATH=/usr/local/go/bin:$PATH
go build -o bin/mybuild ./cmd/mybuild
mkdir -p bench/results
exec go run ./bench -mybuild bin/mybuild -json bench/results/latest.json "$@"
