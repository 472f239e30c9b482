package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	units "github.com/docker/go-units"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// inspectJSON runs inspect --json and decodes what it printed.
func inspectJSON(t *testing.T, args ...string) *image.Inspection {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"inspect", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("inspect --json %v: exit %d\n%s", args, code, stderr)
	}
	var i image.Inspection
	if err := json.Unmarshal([]byte(stdout), &i); err != nil {
		t.Fatalf("inspect --json %v: %v\n%s", args, err, stdout)
	}
	return &i
}

// inspect shows what the build made, wherever the build wrote it: the
// digest the build printed, and each layer with the size the build
// recorded and the step that made it.
func TestInspectBuiltImage(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	dir := project(t, prelude+"RUN echo x > /x\nENV A=b\nCMD [\"cat\", \"/x\"]\n")
	out := t.TempDir()
	archive, layout, meta := filepath.Join(out, "app.tar"), filepath.Join(out, "layout"), filepath.Join(out, "meta.json")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--metadata-file", meta,
		"-t", archive, "-t", "oci:"+layout, "-t", "docker://"+reg.Ref("app:1"), dir)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	built := strings.TrimSpace(stdout)
	var m metadata
	data, _ := os.ReadFile(meta)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}

	i := inspectJSON(t, archive)
	if i.Reference != "oci-archive:"+archive || i.Manifest.Digest.String() != built || i.Config.Digest != m.ConfigDigest {
		t.Errorf("reference %s, manifest %s, config %s; want oci-archive:%s, %s, %s", i.Reference, i.Manifest.Digest, i.Config.Digest, archive, built, m.ConfigDigest)
	}
	// The three steps that made a layer, oldest first, then two that made
	// none.
	wantCreatedBy := []string{"COPY busybox /bin/busybox", "RUN /bin/busybox --install -s /bin", "RUN /bin/sh -c echo x > /x", "ENV A=b", `CMD ["cat" "/x"]`}
	var layerSteps []stepMetadata
	for _, s := range m.Steps {
		if s.LayerDigest != nil {
			layerSteps = append(layerSteps, s)
		}
	}
	if len(i.History) != len(wantCreatedBy) || len(layerSteps) != 3 {
		t.Fatalf("history %+v, build steps %+v", i.History, m.Steps)
	}
	size := i.Manifest.Size + i.Config.Size
	for n, row := range i.History {
		if row.History == nil || !strings.HasPrefix(row.History.CreatedBy, wantCreatedBy[n]) {
			t.Errorf("row %d: history %+v, want created_by %q", n, row.History, wantCreatedBy[n])
		}
		if n >= len(layerSteps) {
			if row.Layer != nil || !row.History.EmptyLayer {
				t.Errorf("row %d: layer %+v, want an empty-layer entry", n, row.Layer)
			}
			continue
		}
		s := layerSteps[n]
		if l := row.Layer; l == nil || l.Index != n || l.Digest != *s.LayerDigest || l.Size != s.Size || l.DiffID != *s.DiffID {
			t.Errorf("row %d: layer %+v, want the build's %s (%d bytes)", n, row.Layer, *s.LayerDigest, s.Size)
			continue
		}
		size += s.Size
	}
	if i.Size != size {
		t.Errorf("size %d, want %d", i.Size, size)
	}

	// The text form shows the same; a bare PATH.tar is an OCI archive.
	code, stdout, stderr = runCLI(t, "inspect", archive)
	if code != 0 {
		t.Fatalf("inspect: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"Image:       oci-archive:" + archive + "\n",
		"Manifest:    " + built + " (application/vnd.oci.image.manifest.v1+json)\n",
		fmt.Sprintf("Size:        %s (%d bytes)\n", units.HumanSizeWithPrecision(float64(size), 3), size),
		`Cmd:         ["cat","/x"]` + "\n",
		"1  " + layerSteps[0].LayerDigest.Encoded()[:12] + "  " + units.HumanSizeWithPrecision(float64(layerSteps[0].Size), 3) + " ",
		"3  " + layerSteps[2].LayerDigest.Encoded()[:12] + "  " + units.HumanSizeWithPrecision(float64(layerSteps[2].Size), 3) + " ",
		"RUN /bin/sh -c echo x > /x",
		"(empty)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect text lacks %q:\n%s", want, stdout)
		}
	}

	// The layout directory, given as a plain path or with oci:, and the
	// registry, given with docker:// or plainly, hold the same image.
	for _, ref := range []string{layout, "oci:" + layout, "docker://" + reg.Ref("app:1"), reg.Ref("app:1")} {
		other := inspectJSON(t, ref)
		if other.Manifest.Digest != i.Manifest.Digest || other.Size != i.Size || !sameHistory(i.History, other.History) {
			t.Errorf("%s: manifest %s, size %d, history %+v; want those of the archive", ref, other.Manifest.Digest, other.Size, other.History)
		}
	}
}

func sameHistory(a, b []image.HistoryRow) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestInspectErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.tar")
	gone := registrytest.StartInMemory(t)
	gone.Stop()
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"inspect", "--help"}, 0, "Usage:\n  mybuild inspect [flags] IMAGE\n"},
		{[]string{"inspect"}, 2, "mybuild: inspect: want one IMAGE, got 0 arguments\n"},
		{[]string{"inspect", "a.tar", "b.tar"}, 2, "mybuild: inspect: want one IMAGE, got 2 arguments\n"},
		{[]string{"inspect", "--bogus", "a.tar"}, 2, "mybuild: unknown flag: --bogus\nRun 'mybuild inspect --help' for usage.\n"},
		{[]string{"inspect", "--platform", "linux", "a.tar"}, 2, "mybuild: --platform: "},
		{[]string{"inspect", "oci-archive:"}, 2, "mybuild: inspect oci-archive:: oci-archive: missing path"},
		{[]string{"inspect", "Bad/Name"}, 2, `mybuild: inspect Bad/Name: invalid image reference "Bad/Name"`},
		{[]string{"inspect", "docker://Bad/Name"}, 2, `mybuild: inspect docker://Bad/Name: invalid image reference "Bad/Name"`},
		{[]string{"inspect", missing}, 1, "mybuild: inspect oci-archive:" + missing + ": open " + missing + ": no such file or directory\n"},
		{[]string{"inspect", "--json", gone.Ref("app:1")}, 1, "mybuild: inspect " + gone.Ref("app:1") + ": cannot reach registry " + gone.Host + ": connection refused\n"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.out) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", tc.args, code, stdout+stderr, tc.code, tc.out)
		}
		// A failure is told in one line, with nothing on stdout.
		if tc.code == 1 && (stdout != "" || stderr != tc.out) {
			t.Errorf("%v: stdout %q, stderr %q; want only %q", tc.args, stdout, stderr, tc.out)
		}
	}
}
