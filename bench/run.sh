#!/bin/sh
# Runs the mybuild benchmarks on a Debian 12 machine, as root, with no
# internet beyond Debian's mirror and the Go module proxy: installs what is
# missing, builds mybuild, prepares the inputs (busybox-static, a
# debootstrap minbase Debian, Go's own src tree) once under
# /var/tmp/mybuild-bench,
# and prints the medians as a markdown table; the JSON goes to
# bench/results/latest.json. Extra arguments go to the driver, e.g.
#   bench/run.sh -runs 3 -only monorepo,steps
#   bench/run.sh -only monorepo,steps -modes namespaces,rootless,in-place,in-place-fresh
#   bench/run.sh -runs 3 -only monorepo,steps -peers buildkit,buildah
# The rootless mode is measured as the user mybuild-rootless (made here,
# with a million subordinate ids, as .ci/run does); the in-place mode in a
# container of a private Docker engine (docker.io). With -peers, the
# peers are installed too: docker-registry and skopeo (the loopback
# registry every tool pulls the Debian base from), buildah, and BuildKit
# v0.34.2, built from the Go module proxy into /opt/buildkit/bin as
# build/testdata/compat/README.md does it.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=""
for pkg in busybox-static:/bin/busybox umoci:/usr/bin/umoci debootstrap:/usr/sbin/debootstrap uidmap:/usr/bin/newuidmap; do
	[ -e "${pkg#*:}" ] || need="$need ${pkg%%:*}"
done
case " $* " in *in-place*) [ -e /usr/bin/dockerd ] || need="$need docker.io" ;; esac
case " $* " in *-peers*)
	for pkg in docker-registry:/usr/bin/docker-registry skopeo:/usr/bin/skopeo buildah:/usr/bin/buildah runc:/usr/sbin/runc; do
		[ -e "${pkg#*:}" ] || need="$need ${pkg%%:*}"
	done ;;
esac
if [ -n "$need" ]; then
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $need ca-certificates >/dev/null
fi
id mybuild-rootless >/dev/null 2>&1 || useradd --create-home --shell /bin/sh mybuild-rootless
grep -qx 'mybuild-rootless:300000:1000000' /etc/subuid || usermod --add-subuids 300000-1299999 mybuild-rootless
grep -qx 'mybuild-rootless:300000:1000000' /etc/subgid || usermod --add-subgids 300000-1299999 mybuild-rootless
.ci/install-go
export PATH=/usr/local/go/bin:$PATH
buildkit=v0.34.2
case " $* " in *-peers*buildkit*)
	if [ ! -x /opt/buildkit/bin/buildkitd ] || [ ! -x /opt/buildkit/bin/buildctl ]; then
		# go install ...@version refuses BuildKit's exclude directives:
		# build it in a throwaway module.
		tmp=$(mktemp -d)
		(
			cd "$tmp" && go mod init bk >/dev/null 2>&1
			printf '//go:build tools\npackage bk\nimport (\n_ "github.com/moby/buildkit/cmd/buildctl"\n_ "github.com/moby/buildkit/cmd/buildkitd"\n)\n' >tools.go
			go get github.com/moby/buildkit@$buildkit && go mod tidy
			mkdir -p /opt/buildkit/bin
			CGO_ENABLED=0 go build -o /opt/buildkit/bin/ github.com/moby/buildkit/cmd/buildctl github.com/moby/buildkit/cmd/buildkitd
		)
		rm -rf "$tmp"
	fi ;;
esac
# Static, as deploy/build-image.sh ships it: no dynamic loader at each
# start (0.6 ms of a 10 ms warm build).
CGO_ENABLED=0 go build -o bin/mybuild ./cmd/mybuild
mkdir -p bench/results
exec go run ./bench -mybuild bin/mybuild -json bench/results/latest.json "$@"
