package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// --provenance and --attest take buildx's spellings; anything else is a
// usage error, one line.
func TestProvenanceFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--provenance=mode=mid"}, "mybuild: --provenance mode=mid: mode=mid: want min or max\n"},
		{[]string{"--provenance", "mode=mid"}, "mybuild: --provenance mode=mid: mode=mid: want min or max\n"},
		{[]string{"--provenance=yes"}, "mybuild: --provenance yes: want true, false or KEY=VALUE attributes (mode, builder-id, inline-only, version)\n"},
		{[]string{"--provenance", "mode=max,colour=blue"}, "mybuild: --provenance mode=max,colour=blue: unknown attribute \"colour\" (want mode, builder-id, inline-only, version or disabled)\n"},
		{[]string{"--provenance", "version=v0.2"}, "mybuild: --provenance version=v0.2: version=v0.2: want v1 (mybuild writes SLSA provenance v1 only)\n"},
		{[]string{"--provenance", "inline-only=yes"}, "mybuild: --provenance inline-only=yes: inline-only=yes: want true or false\n"},
		{[]string{"--provenance", "builder-id="}, "mybuild: --provenance builder-id=: builder-id=: want the builder's URI\n"},
		{[]string{"--provenance", "filename=p.json"}, "mybuild: --provenance filename=p.json: filename is not supported: mybuild writes no provenance file beside a type=local or type=tar output\n"},
		{[]string{"--provenance", "reproducible=true"}, "mybuild: --provenance reproducible=true: reproducible is not supported: "},
		{[]string{"--attest", "type=sbom"}, "mybuild: --attest type=sbom: only type=provenance is supported (mybuild makes no SBOM)\n"},
		{[]string{"--attest", "type=provenance,mode=huge"}, "mybuild: --attest mode=huge: mode=huge: want min or max\n"},
	} {
		code, _, stderr := runCLI(t, append(tc.args, t.TempDir())...)
		if code != 2 || !strings.HasPrefix(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}

// --provenance takes its value apart from it, as buildx does
// (--provenance mode=max, --provenance false), as well as joined to it,
// and stands alone for true; the attributes docker/build-push-action
// passes are taken: builder-id sets the statement's builder id,
// inline-only and version=v1 ask for what mybuild does.
func TestProvenanceSpellings(t *testing.T) {
	dir := project(t, copyOnly)
	cache := t.TempDir()
	const runURL = "https://github.com/acme/app/actions/runs/42"
	for _, tc := range []struct {
		args      []string
		max       bool
		builderID string
	}{
		{[]string{"--provenance", "mode=max"}, true, ""},
		{[]string{"--provenance", "mode=min,inline-only=true,builder-id=" + runURL}, false, runURL},
		{[]string{"--provenance=mode=max,builder-id=" + runURL + ",version=v1,inline-only=false"}, true, runURL},
		{[]string{"--attest", "type=provenance,mode=max,builder-id=" + runURL}, true, runURL},
		{[]string{"--provenance", "true"}, false, ""},
		{[]string{"--provenance"}, false, ""}, // the context after it stays the context
		{[]string{"-provenance", "1"}, false, ""},
	} {
		archive := filepath.Join(t.TempDir(), "app.tar")
		_, _, idx := buildIndex(t, archive, append(append([]string{"--cache-dir", cache}, tc.args...), dir)...)
		if len(idx.Manifests) != 2 {
			t.Errorf("%q: index has %d manifests, want the image and its attestation", tc.args, len(idx.Manifests))
			continue
		}
		id := tc.builderID
		if id == "" {
			id = "https://github.com/mybuild/mybuild"
		}
		st, _ := checkAttestationBy(t, idx.Manifests[1], idx.Manifests[0].Digest, archiveBlobs(t, archive), id)
		if _, ok := st.Predicate.dependency("context:busybox"); ok != tc.max {
			t.Errorf("%q: context:busybox listed: %v, want %v (mode=max)", tc.args, ok, tc.max)
		}
	}
	for _, off := range [][]string{{"--provenance", "false"}, {"--provenance", "0"}, {"--provenance", "mode=max,disabled=true"}} {
		archive := filepath.Join(t.TempDir(), "off.tar")
		code, stdout, stderr := runCLI(t, append(append([]string{"--cache-dir", cache, "-t", archive}, off...), dir)...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", off, code, stderr)
		}
		if got := readOCIArchive(t, archive); got.manifestDigest != digestOf(stdout) || len(got.index.Manifests) != 1 {
			t.Errorf("%q: printed %s, the archive holds %s in %+v: want the image alone", off, stdout, got.manifestDigest, got.index)
		}
	}
}
