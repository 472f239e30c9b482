#!/bin/sh
# Builds mybuild's own image (deploy/Dockerfile), with mybuild, on a
# machine where it builds in the normal mode: root, or a user with a
# subuid range. The image is what builds in place in unprivileged
# containers run (docs/in-place.md#running-it).
#
#   deploy/build-image.sh DEST [MYBUILD BUILD FLAGS...]
#
# DEST is any destination of mybuild's -t, for instance
#   docker-archive:mybuild.tar:mybuild:latest   (then: docker load -i mybuild.tar)
#   docker://registry.example.com/tools/mybuild:1
#
# It needs Go (.ci/install-go) and /etc/ssl/certs/ca-certificates.crt
# (apt-get install ca-certificates), whose certificates the image
# carries.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 DEST [MYBUILD BUILD FLAGS...]" >&2
	exit 2
fi
dest=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
certs=${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$certs" ] || { echo "$0: $certs is missing: apt-get install ca-certificates" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# The context holds the static binary and the certificates; the marker is
# made by the Dockerfile, never beside a binary on this machine.
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$ctx/mybuild" ./cmd/mybuild)
cp "$certs" "$ctx/ca-certificates.crt"
# The binary just built builds its own image, in the normal mode.
"$ctx/mybuild" build -f "$repo/deploy/Dockerfile" -t "$dest" "$@" "$ctx"
