package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// provStatement is the part of a provenance statement the tests check.
type provStatement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate provPredicate `json:"predicate"`
}

type provPredicate struct {
	BuildDefinition struct {
		BuildType          string `json:"buildType"`
		ExternalParameters struct {
			Dockerfile provResource      `json:"dockerfile"`
			Target     string            `json:"target"`
			Platforms  []string          `json:"platforms"`
			Args       map[string]string `json:"args"`
		} `json:"externalParameters"`
		ResolvedDependencies []provResource `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID      string            `json:"id"`
			Version map[string]string `json:"version"`
		} `json:"builder"`
		Metadata struct {
			InvocationID string     `json:"invocationId"`
			StartedOn    *time.Time `json:"startedOn"`
			FinishedOn   *time.Time `json:"finishedOn"`
		} `json:"metadata"`
	} `json:"runDetails"`
}

type provResource struct {
	Name   string            `json:"name"`
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// dependency finds a resolved dependency by name or URI.
func (p *provPredicate) dependency(key string) (provResource, bool) {
	for _, r := range p.BuildDefinition.ResolvedDependencies {
		if r.Name == key || r.URI == key {
			return r, true
		}
	}
	return provResource{}, false
}

// blobReader reads a blob of a layout by digest.
type blobReader func(d digest.Digest) []byte

func archiveBlobs(t *testing.T, path string) blobReader {
	files := tarFiles(t, path)
	return func(d digest.Digest) []byte {
		t.Helper()
		data, ok := files[blobPath(d)]
		if !ok {
			t.Fatalf("%s has no blob %s", path, d)
		}
		if digest.FromBytes(data) != d {
			t.Fatalf("blob %s has digest %s", d, digest.FromBytes(data))
		}
		return data
	}
}

func decodeJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
}

// checkAttestation checks the index entry att, the attestation manifest
// of the image whose manifest is target, field by field as BuildKit
// writes one, and returns its statement, decoded and as it is.
func checkAttestation(t *testing.T, att ocispec.Descriptor, target digest.Digest, blob blobReader) (provStatement, []byte) {
	t.Helper()
	return checkAttestationBy(t, att, target, blob, "https://github.com/mybuild/mybuild")
}

// checkAttestationBy is checkAttestation of a statement whose builder id
// is builderID.
func checkAttestationBy(t *testing.T, att ocispec.Descriptor, target digest.Digest, blob blobReader, builderID string) (provStatement, []byte) {
	t.Helper()
	if att.MediaType != ocispec.MediaTypeImageManifest || att.Platform == nil || att.Platform.OS != "unknown" || att.Platform.Architecture != "unknown" {
		t.Errorf("attestation entry: %+v, want an OCI manifest for unknown/unknown", att)
	}
	if got := att.Annotations; len(got) != 2 || got["vnd.docker.reference.type"] != "attestation-manifest" || got["vnd.docker.reference.digest"] != target.String() {
		t.Errorf("attestation entry annotations: %v, want the reference to %s", got, target)
	}
	var m ocispec.Manifest
	decodeJSON(t, blob(att.Digest), &m)
	if m.Config.MediaType != ocispec.MediaTypeImageConfig || len(m.Layers) != 1 {
		t.Fatalf("attestation manifest: %+v", m)
	}
	l := m.Layers[0]
	if l.MediaType != "application/vnd.in-toto+json" || len(l.Annotations) != 1 || l.Annotations["in-toto.io/predicate-type"] != "https://slsa.dev/provenance/v1" {
		t.Errorf("attestation layer: %+v", l)
	}
	var cfg ocispec.Image
	decodeJSON(t, blob(m.Config.Digest), &cfg)
	if cfg.OS != "unknown" || cfg.Architecture != "unknown" || cfg.RootFS.Type != "layers" || len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != l.Digest {
		t.Errorf("attestation config: %+v", cfg)
	}
	var st provStatement
	raw := blob(l.Digest)
	decodeJSON(t, raw, &st)
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/provenance/v1" {
		t.Errorf("statement type %q, predicate type %q", st.Type, st.PredicateType)
	}
	if len(st.Subject) == 0 {
		t.Fatalf("statement has no subject: %s", raw)
	}
	for _, s := range st.Subject {
		if len(s.Digest) != 1 || s.Digest["sha256"] != target.Encoded() {
			t.Errorf("subject %+v, want the manifest %s", s, target)
		}
	}
	p := st.Predicate
	if p.BuildDefinition.BuildType != "https://github.com/mybuild/mybuild/provenance/v1" {
		t.Errorf("buildType %q", p.BuildDefinition.BuildType)
	}
	if b := p.RunDetails.Builder; b.ID != builderID || b.Version["mybuild"] != versionString() {
		t.Errorf("builder %+v", b)
	}
	return st, raw
}

// buildIndex builds with args, and returns the printed digest, stderr and
// the index of the oci-archive written to archive, read by skopeo.
func buildIndex(t *testing.T, archive string, args ...string) (digest.Digest, string, ocispec.Index) {
	t.Helper()
	code, stdout, stderr := runCLI(t, append(args, "-t", archive)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	printed := digestOf(stdout)
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci-archive:"+archive).Output()
	if err != nil || digest.FromBytes(raw) != printed {
		t.Fatalf("skopeo inspect --raw: %s (%v), want the index %s", raw, err, printed)
	}
	var idx ocispec.Index
	decodeJSON(t, raw, &idx)
	if idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("not an index: %s", raw)
	}
	return printed, stderr, idx
}

// --provenance=mode=max: the image manifest is the one a build without
// provenance makes, now in an index with its attestation manifest; the
// statement lists the Dockerfile, the consumed build args (no secret, no
// unconsumed arg, no proxy arg), the context and every COPY source by content; the
// docker-archive gets the image alone, with one warning; the metadata
// file has buildx's provenance key.
func TestProvenanceMax(t *testing.T) {
	const dockerfile = "FROM scratch\nARG V=1\nARG HTTP_PROXY\nCOPY busybox /bin/busybox\nRUN --mount=type=secret,id=s [\"/bin/busybox\", \"true\"]\n" +
		"RUN --mount=type=bind,source=conf,target=/conf [\"/bin/busybox\", \"cat\", \"/conf/c\"]\nCOPY app/ /app/\n"
	dir := project(t, dockerfile)
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "f"), []byte("f\n"), 0o644)
	// Read by a RUN through a bind mount, not copied: a material too.
	os.MkdirAll(filepath.Join(dir, "conf"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf", "c"), []byte("c\n"), 0o644)
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("hunter2-secret-value"), 0o600)
	cache, out := t.TempDir(), t.TempDir()
	common := []string{"--cache-dir", cache, "--build-arg", "V=2", "--build-arg", "UNUSED=3", "--build-arg", "HTTP_PROXY=http://user:pw@proxy.invalid", "--secret", "id=s,src=" + secret}

	code, stdout, stderr := runCLI(t, append(common, "-t", filepath.Join(out, "plain.tar"), dir)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	plain := readOCIArchive(t, filepath.Join(out, "plain.tar")).manifestDigest
	if digestOf(stdout) != plain {
		t.Fatalf("without provenance, printed %s, want the manifest %s", stdout, plain)
	}

	archive, meta, dockerArchive, iid := filepath.Join(out, "prov.tar"), filepath.Join(out, "meta.json"), filepath.Join(out, "docker.tar"), filepath.Join(out, "iid")
	printed, stderr, idx := buildIndex(t, archive, append(common, "--provenance=mode=max", "--metadata-file", meta, "--iidfile", iid, "-t", "docker-archive:"+dockerArchive, dir)...)
	warning := "WARNING: --provenance: no attestation in docker-archive:" + dockerArchive + ": only an image index holds one\n"
	if strings.Count(stderr, warning) != 1 {
		t.Errorf("stderr does not warn once of the docker-archive (%q):\n%s", warning, stderr)
	}
	if len(idx.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want the image and its attestation", len(idx.Manifests))
	}
	img := idx.Manifests[0]
	host := image.HostPlatform()
	if img.Digest != plain || img.Platform == nil || img.Platform.OS != host.OS || img.Platform.Architecture != host.Architecture || len(img.Annotations) != 0 {
		t.Errorf("image entry %+v, want the manifest %s built without provenance", img, plain)
	}
	blob := archiveBlobs(t, archive)
	st, statement := checkAttestation(t, idx.Manifests[1], plain, blob)
	if len(st.Subject) != 1 || st.Subject[0].Name != "_" {
		t.Errorf("subjects %+v, want one, unnamed (\"_\")", st.Subject)
	}
	p := st.Predicate
	ext := p.BuildDefinition.ExternalParameters
	if ext.Dockerfile.Name != "Dockerfile" || ext.Dockerfile.Digest["sha256"] != digest.FromString(dockerfile).Encoded() {
		t.Errorf("dockerfile %+v, want Dockerfile with %s", ext.Dockerfile, digest.FromString(dockerfile))
	}
	if len(ext.Args) != 1 || ext.Args["V"] != "2" || ext.Target != "" {
		t.Errorf("args %v, target %q: want V=2 alone", ext.Args, ext.Target)
	}
	if len(ext.Platforms) != 1 || ext.Platforms[0] != image.FormatPlatform(host) {
		t.Errorf("platforms %v", ext.Platforms)
	}
	busybox, _ := os.ReadFile(filepath.Join(dir, "busybox"))
	for name, want := range map[string]digest.Digest{"context:busybox": digest.FromBytes(busybox), "context:app/f": digest.FromString("f\n"), "context:conf/c": digest.FromString("c\n")} {
		if r, ok := p.dependency(name); !ok || r.Digest["sha256"] != want.Encoded() {
			t.Errorf("dependency %s: %+v, want %s", name, r, want)
		}
	}
	if r, ok := p.dependency("context"); !ok || len(r.Digest["sha256"]) != 64 {
		t.Errorf("no context digest: %+v", p.BuildDefinition.ResolvedDependencies)
	}
	md := p.RunDetails.Metadata
	if len(md.InvocationID) != 32 || md.StartedOn == nil || md.FinishedOn == nil || md.FinishedOn.Before(*md.StartedOn) || time.Since(*md.StartedOn) > time.Hour {
		t.Errorf("run metadata %+v", md)
	}
	for _, leak := range []string{"hunter2", "UNUSED", "secret", "PROXY", "user:pw", digest.FromString("hunter2-secret-value").Encoded()} {
		if strings.Contains(string(statement), leak) {
			t.Errorf("provenance mentions %q: %s", leak, statement)
		}
	}
	if got := readOCIArchive(t, dockerArchive); len(got.index.Manifests) != 1 || got.config.Architecture != host.Architecture {
		t.Errorf("docker-archive: %+v", got.index)
	}
	var m map[string]json.RawMessage
	data, _ := os.ReadFile(meta)
	decodeJSON(t, data, &m)
	var mp provPredicate
	decodeJSON(t, m["buildx.build.provenance"], &mp)
	if mp.BuildDefinition.BuildType != p.BuildDefinition.BuildType || len(mp.BuildDefinition.ResolvedDependencies) != len(p.BuildDefinition.ResolvedDependencies) {
		t.Errorf("metadata buildx.build.provenance: %s", m["buildx.build.provenance"])
	}
	if string(m["containerimage.digest"]) != `"`+printed.String()+`"` || string(m["index_digest"]) != `"`+printed.String()+`"` {
		t.Errorf("metadata digests: %s, want the index %s", data, printed)
	}
	config := readOCIArchive(t, filepath.Join(out, "plain.tar")).manifest.Config.Digest
	if string(m["containerimage.config.digest"]) != `"`+config.String()+`"` {
		t.Errorf("metadata config digest: %s, want %s", m["containerimage.config.digest"], config)
	}
	if id, _ := os.ReadFile(iid); string(id) != config.String() {
		t.Errorf("iidfile %q, want the config digest %s, as buildx writes it", id, config)
	}
}

// --provenance (min) names the base image, read from an OCI archive, by
// its manifest digest, and the context by one digest, but no file on its
// own; umoci reads the layout's index; a type=tar output is warned of.
func TestProvenanceMin(t *testing.T) {
	dir := project(t, copyOnly)
	cache, out := t.TempDir(), t.TempDir()
	base := filepath.Join(out, "base.tar")
	code, stdout, stderr := runCLI(t, "--cache-dir", cache, "-t", base, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	baseDigest := digestOf(stdout)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM oci-archive:"+base+"\nCOPY Dockerfile /again\n"), 0o644)
	archive := filepath.Join(out, "app.tar")
	_, _, idx := buildIndex(t, archive, "--cache-dir", cache, "--provenance", "--target", "", "--annotation", "index:org.example.i=1", dir)
	if len(idx.Manifests) != 2 {
		t.Fatalf("index has %d manifests", len(idx.Manifests))
	}
	// One platform with a provenance makes an index, which index: annotates.
	if idx.Annotations["org.example.i"] != "1" {
		t.Errorf("index annotations %v", idx.Annotations)
	}
	st, _ := checkAttestation(t, idx.Manifests[1], idx.Manifests[0].Digest, archiveBlobs(t, archive))
	p := st.Predicate
	if r, ok := p.dependency("oci-archive:" + base); !ok || r.Digest["sha256"] != baseDigest.Encoded() {
		t.Errorf("base image: %+v, want %s", p.BuildDefinition.ResolvedDependencies, baseDigest)
	}
	if _, ok := p.dependency("context"); !ok {
		t.Errorf("no context digest: %+v", p.BuildDefinition.ResolvedDependencies)
	}
	if n := len(p.BuildDefinition.ResolvedDependencies); n != 2 {
		t.Errorf("mode=min lists %d dependencies, want the base and the context: %+v", n, p.BuildDefinition.ResolvedDependencies)
	}
	if p.BuildDefinition.ExternalParameters.Args != nil {
		t.Errorf("args %v, want none", p.BuildDefinition.ExternalParameters.Args)
	}
	layout, files := filepath.Join(out, "layout"), filepath.Join(out, "files.tar")
	code, _, stderr = runCLI(t, "--cache-dir", cache, "--provenance=true", "-t", "oci:"+layout+":v1", "-o", "type=tar,dest="+files, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	warning := "WARNING: --provenance: no attestation in type=tar,dest=" + files + ": only an image index holds one\n"
	if strings.Count(stderr, warning) != 1 {
		t.Errorf("stderr does not warn once of the tar output (%q):\n%s", warning, stderr)
	}
	if _, ok := tarFiles(t, files)["again"]; !ok {
		t.Errorf("the tar output lacks the image's files")
	}
	if ls, err := exec.Command("umoci", "ls", "--layout", layout).CombinedOutput(); err != nil || strings.TrimSpace(string(ls)) != "v1" {
		t.Errorf("umoci ls: %s (%v)", ls, err)
	}
}

// Under SOURCE_DATE_EPOCH the provenance is reproducible: its times are
// the epoch, it has no invocation id, and two builds on two caches give
// the same index digest.
func TestProvenanceReproducible(t *testing.T) {
	dir := project(t, copyOnly)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	var digests []digest.Digest
	for i := range 2 {
		archive := filepath.Join(t.TempDir(), "app.tar")
		printed, _, idx := buildIndex(t, archive, "--cache-dir", t.TempDir(), "--provenance=mode=max", dir)
		digests = append(digests, printed)
		if i > 0 {
			continue
		}
		st, _ := checkAttestation(t, idx.Manifests[1], idx.Manifests[0].Digest, archiveBlobs(t, archive))
		md := st.Predicate.RunDetails.Metadata
		epoch := time.Unix(1700000000, 0)
		if md.InvocationID != "" || md.StartedOn == nil || !md.StartedOn.Equal(epoch) || md.FinishedOn == nil || !md.FinishedOn.Equal(epoch) {
			t.Errorf("run metadata %+v, want the epoch and no invocation id", md)
		}
		time.Sleep(1100 * time.Millisecond) // a time that leaked would differ
	}
	if digests[0] != digests[1] {
		t.Errorf("index digests differ: %v", digests)
	}
}

// registryBlobs reads a manifest or blob of repo from a registry: as a
// blob first, since a manifest asked for as a blob is a quick 404, a blob
// asked for as a manifest a 500 that is retried.
func registryBlobs(t *testing.T, repo string) blobReader {
	return func(d digest.Digest) []byte {
		t.Helper()
		r, err := name.NewDigest(repo+"@"+d.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		data, err := registryBlob(r)
		if err != nil {
			desc, gerr := ggcrremote.Get(r)
			if gerr != nil {
				t.Fatalf("%s: %v; as a manifest: %v", r, err, gerr)
			}
			data = desc.Manifest
		}
		if digest.FromBytes(data) != d {
			t.Fatalf("%s: digest %s", r, digest.FromBytes(data))
		}
		return data
	}
}

func registryBlob(r name.Digest) ([]byte, error) {
	l, err := ggcrremote.Layer(r)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// A multi-platform build pushed with --attest type=provenance,mode=max:
// the index in the registry has each platform's image, then one
// attestation manifest per image, each about its own image and naming it
// by its package URL, and the metadata file each platform's predicate
// under buildx's key; --provenance=false after it turns it off again.
func TestProvenancePushMultiPlatform(t *testing.T) {
	reg := registrytest.Start(t)
	repo := reg.Ref("app")
	dir := project(t, copyOnly)
	meta := filepath.Join(t.TempDir(), "meta.json")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--platform", "linux/amd64,linux/arm64", "--attest", "type=provenance,mode=max",
		"--insecure-registry", reg.Host, "-t", repo+":1", "--push", "--metadata-file", meta, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+repo+":1").Output()
	if err != nil || digest.FromBytes(raw) != digestOf(stdout) {
		t.Fatalf("skopeo inspect --raw: %s (%v), want the index %s", raw, err, stdout)
	}
	var idx ocispec.Index
	decodeJSON(t, raw, &idx)
	if len(idx.Manifests) != 4 {
		t.Fatalf("index has %d manifests, want 2 images and 2 attestations: %s", len(idx.Manifests), raw)
	}
	blob := registryBlobs(t, repo)
	for i, arch := range []string{"amd64", "arm64"} {
		img := idx.Manifests[i]
		if img.Platform == nil || img.Platform.Architecture != arch || image.IsAttestation(img) {
			t.Errorf("entry %d: %+v, want the %s image", i, img, arch)
		}
		st, _ := checkAttestation(t, idx.Manifests[2+i], img.Digest, blob)
		want := "pkg:docker/" + repo + "@1?platform=linux%2F" + arch
		if len(st.Subject) != 1 || st.Subject[0].Name != want {
			t.Errorf("%s subject %+v, want %s", arch, st.Subject, want)
		}
		ext := st.Predicate.BuildDefinition.ExternalParameters
		if strings.Join(ext.Platforms, ",") != "linux/amd64,linux/arm64" {
			t.Errorf("%s platforms %v", arch, ext.Platforms)
		}
		if _, ok := st.Predicate.dependency("context:busybox"); !ok {
			t.Errorf("%s: mode=max lists no context:busybox: %+v", arch, st.Predicate.BuildDefinition.ResolvedDependencies)
		}
		var m map[string]json.RawMessage
		data, _ := os.ReadFile(meta)
		decodeJSON(t, data, &m)
		var mp provPredicate
		decodeJSON(t, m["buildx.build.provenance/linux/"+arch], &mp)
		if mp.BuildDefinition.BuildType != st.Predicate.BuildDefinition.BuildType || len(mp.BuildDefinition.ResolvedDependencies) != len(st.Predicate.BuildDefinition.ResolvedDependencies) {
			t.Errorf("metadata buildx.build.provenance/linux/%s: %s", arch, data)
		}
		if _, ok := m["buildx.build.provenance"]; ok {
			t.Errorf("a multi-platform build's metadata has the single-platform key: %s", data)
		}
	}
	off := filepath.Join(t.TempDir(), "off.tar")
	code, stdout, stderr = runCLI(t, "--cache-dir", t.TempDir(), "--provenance=true", "--provenance=false", "-t", off, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if got := readOCIArchive(t, off); got.manifestDigest != digestOf(stdout) {
		t.Errorf("--provenance=false: printed %s, the archive holds %s", stdout, got.manifestDigest)
	}
}
