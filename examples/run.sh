#!/bin/sh
# Runs the mybuild example end to end on a Debian 12 machine, as root:
# installs what is missing, builds mybuild, builds a busybox base image
# FROM scratch, builds examples/app on top of it, then shows with real
# clients (skopeo, umoci, buildah) that the result is a valid OCI image,
# rebuilds it from the cache, and shows it with mybuild inspect and run.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=""
for pkg in busybox-static:/bin/busybox skopeo:/usr/bin/skopeo umoci:/usr/bin/umoci buildah:/usr/bin/buildah; do
	[ -e "${pkg#*:}" ] || need="$need ${pkg%%:*}"
done
if [ -n "$need" ]; then
	echo "== installing$need"
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $need ca-certificates >/dev/null
fi
.ci/install-go
export PATH=/usr/local/go/bin:$PATH

echo "== building mybuild"
CGO_ENABLED=0 go build -o bin/mybuild ./cmd/mybuild  # static, as deploy/build-image.sh ships it
out=examples/out
rm -rf "$out" && mkdir -p "$out"
cache="$out/cache"

echo "== building the busybox base image (FROM scratch)"
cp /bin/busybox examples/busybox/busybox
bin/mybuild --cache-dir "$cache" -t "$out/busybox.tar" examples/busybox
rm -f examples/busybox/busybox

echo "== building examples/app on top of it"
bin/mybuild --cache-dir "$cache" -t "oci-archive:$out/app.tar:latest" --metadata-file "$out/metadata.json" examples/app

echo "== skopeo inspect oci-archive:$out/app.tar"
skopeo inspect "oci-archive:$out/app.tar" | sed -n '/"Layers"/,/\]/p;/"Env"/,/\]/p'

echo "== umoci unpack: the root filesystem"
mkdir -p "$out/layout" && tar -C "$out/layout" -xf "$out/app.tar"
umoci unpack --image "$out/layout:latest" "$out/bundle" >/dev/null
ls -l "$out/bundle/rootfs/srv/app" "$out/bundle/rootfs/srv/app/bin"
test ! -e "$out/bundle/rootfs/srv/app/notes" && echo "notes/ was left out by .dockerignore"
test ! -e "$out/bundle/rootfs/bin/vi" && echo "/bin/vi was deleted by a later layer"

echo "== buildah from oci-archive:$out/app.tar, then buildah run"
# chroot isolation runs on any host; crun refuses hosts with hybrid cgroups.
ctr=$(buildah from -q "oci-archive:$out/app.tar")
buildah run --isolation chroot "$ctr" -- /srv/app/bin/greet
buildah rm "$ctr" >/dev/null

echo "== rebuilding: every step comes from the cache"
bin/mybuild --cache-dir "$cache" -t "oci-archive:$out/app2.tar:latest" examples/app
cmp "$out/app.tar" "$out/app2.tar" && echo "the rebuild is byte for byte the same image"

echo "== mybuild inspect: layers, sizes and the steps that made them"
bin/mybuild inspect "$out/app.tar"

echo "== mybuild run: the image's CMD, in the sandbox of RUN steps"
bin/mybuild run --cache-dir "$cache" "$out/app.tar"
