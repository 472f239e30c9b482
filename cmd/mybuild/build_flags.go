package main

import (
	"os"
	"time"

	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/registry"
	"github.com/spf13/cobra"
)

// buildOptions are the flags of mybuild build.
type buildOptions struct {
	registryOptions
	file, cacheDir, network, metadataFile, iidFile, progress string
	cpuProfile, target, cacheRepo                            string
	compression, format, sourceDateEpoch, provenanceValue    string
	compressionLevel                                         int
	cacheTTL                                                 time.Duration
	tags, outputs, buildArgs, contexts, secrets, allow       []string
	labels, annotations, cacheFrom, cacheTo, attest, ssh     []string
	noCache, quiet, version, repoReadOnly, push, load        bool
	check                                                    bool
	isolation                                                string
	force                                                    bool
	mode                                                     isolation.Mode
	// cacheMountExport sends cache mounts to the shared cache.
	cacheMountExport bool
	// compressionSet tells whether --compression or
	// --compression-level was given, which an --output's compression=
	// must then agree with.
	compressionSet bool
	// prefetcher asks the registries ahead (startPrefetch); nil when
	// nothing is.
	prefetcher *registry.Prefetcher
}

// register adds the flags to cmd, with buildx's names and help where
// mybuild has the feature, in the groups of the help.
func (o *buildOptions) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVarP(&o.file, "file", "f", "", "Name of the Dockerfile (default: \"CONTEXT/Dockerfile\")")
	fs.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables (K=V, or K to take the value from the environment)")
	fs.StringArrayVar(&o.contexts, "build-context", nil, "Additional build contexts (e.g., name=path), for FROM name and COPY --from=name: a directory, docker-image://REF or oci-layout://DIR[:TAG]")
	fs.StringVar(&o.target, "target", "", "Set the target build stage to build")
	fs.StringArrayVar(&o.secrets, "secret", nil, "Secret to expose to the build (format: \"id=mysecret[,src=/local/secret]\", or id=ID,env=VAR)")
	fs.StringArrayVar(&o.ssh, "ssh", nil, sshHelp)
	o.registryOptions.register(fs, "Set target platform for build (os/arch[/variant]; default the host's); several, comma separated, build a multi-platform image")
	o.multiPlatform = true
	fs.BoolVar(&o.check, "check", false, "Check the Dockerfile with BuildKit's lint rules and build nothing: exit 1 on warnings (see \"# check=\" in the README)")
	group(cmd, "Input flags", "file", "build-arg", "build-context", "target", "secret", "ssh", "platform", "pull", "insecure-registry", "check")

	fs.StringArrayVarP(&o.tags, "tag", "t", nil, "Image identifier (format: \"[registry/]repository[:tag]\"), pushed with --push; or where the image is written: PATH.tar, oci-archive:PATH[:REF], oci:DIR[:REF], docker-archive:PATH[:NAME:TAG] or docker://REF")
	fs.StringArrayVarP(&o.outputs, "output", "o", nil, "Output destination (format: \"type=local,dest=path\"); type is local, tar, oci, docker, image or registry")
	fs.BoolVar(&o.push, "push", false, "Shorthand for \"--output=type=registry\": push the image to every -t NAME")
	fs.BoolVar(&o.load, "load", false, "Refused: there is no Docker daemon to load into")
	fs.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image (K=V)")
	fs.StringArrayVar(&o.annotations, "annotation", nil, "Add annotation to the image ([manifest:]K=V, or manifest-descriptor:K=V for its entry in an OCI layout's index)")
	fs.StringVar(&o.iidFile, "iidfile", "", "Write the image ID (the config digest) to the file")
	fs.StringVar(&o.metadataFile, "metadata-file", "", "Write build result metadata to a file")
	fs.StringVar(&o.format, "format", "oci", "What a -t PATH.tar gets: oci (an OCI archive) or docker (a docker-archive)")
	fs.StringVar(&o.compression, "compression", "gzip", "Compress new layers with gzip, zstd or none (base image layers are kept as they are)")
	fs.IntVar(&o.compressionLevel, "compression-level", 0, "Compression level: gzip 1-9, zstd 1-22 (default: the compressor's default)")
	fs.StringVar(&o.sourceDateEpoch, "source-date-epoch", "", "Build reproducibly for this time, in seconds since 1970 (default $SOURCE_DATE_EPOCH): clamp file times in new layers, date the config and new history")
	fs.StringVar(&o.provenanceValue, "provenance", "", provenanceHelp)
	fs.Lookup("provenance").NoOptDefVal = "true"
	fs.StringArrayVar(&o.attest, "attest", nil, "Attestation parameters (format: \"type=provenance,mode=min|max\"): the same as --provenance")
	group(cmd, "Output flags", "tag", "output", "push", "load", "label", "annotation", "iidfile", "metadata-file",
		"format", "compression", "compression-level", "source-date-epoch", "provenance", "attest")

	fs.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "The local cache directory")
	fs.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image (results are still stored)")
	fs.StringArrayVar(&o.cacheFrom, "cache-from", nil, "External cache sources (e.g., \"type=registry,ref=ghcr.io/acme/app-cache\"): a --cache-repo, read only without --cache-to")
	fs.StringArrayVar(&o.cacheTo, "cache-to", nil, "Cache export destinations (e.g., \"type=registry,ref=ghcr.io/acme/app-cache,mode=max\"): a --cache-repo")
	fs.StringVar(&o.cacheRepo, "cache-repo", "", "Share step results through this repository (REGISTRY/REPO), one tag per step")
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 14*24*time.Hour, "Ignore shared cache entries older than this (0: keep them forever)")
	fs.BoolVar(&o.repoReadOnly, "cache-repo-readonly", false, "Use the shared cache, never push to it")
	fs.BoolVar(&o.cacheMountExport, "cache-mount-export", true, "Send the RUN --mount=type=cache directories (sharing shared and locked) to the shared cache after the build; they are brought from it either way")
	group(cmd, "Cache flags", "cache-dir", "no-cache", "cache-from", "cache-to", "cache-repo", "cache-ttl", "cache-repo-readonly", "cache-mount-export")

	fs.StringVar(&o.network, "network", "host", "Set the networking mode for the \"RUN\" instructions during build: host or none")
	fs.StringArrayVar(&o.allow, "allow", nil, "Allow extra privileged entitlement (e.g., \"security.insecure\", which lets RUN --security=insecure run unconfined; network.host changes nothing)")
	fs.StringVar(&o.isolation, "isolation", "auto", "How RUN steps are isolated: auto, namespaces (root), rootless (a user with a subuid range) or in-place (in an unprivileged container, in mybuild's image)")
	fs.BoolVar(&o.force, "force", false, "Dangerous: with --isolation=in-place, build in place without mybuild's marker, rewriting this machine's root filesystem")
	group(cmd, "RUN step flags", "network", "allow", "isolation", "force")

	fs.StringVar(&o.progress, "progress", progressDefault(), "Set type of progress output (\"auto\", \"tty\", \"plain\", \"rawjson\", \"quiet\"); auto is the live view (tty) on a terminal, plain elsewhere")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print the image digest on success")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "Write a CPU profile of the build to a file (for go tool pprof)")
	fs.BoolVar(&o.version, "version", false, "Print the version and exit")
	group(cmd, "Progress flags", "progress", "quiet", "cpuprofile", "version")
}

// progressDefault is $BUILDKIT_PROGRESS, as buildx reads it, else auto.
func progressDefault() string {
	if p := os.Getenv("BUILDKIT_PROGRESS"); p != "" {
		return p
	}
	return "auto"
}
