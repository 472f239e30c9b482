package build

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/transport"
)

// archBase builds an OCI layout whose index holds an image for
// linux/amd64 and one for linux/arm64, made of the files of amd64 and of
// arm64 (name to content; a content "-> target" is a symlink, a name
// ending in "/" an empty dir whose content is its octal mode), and
// returns its FROM reference. Every time in them is the same, so that
// the two differ only where their files do.
func archBase(t *testing.T, amd64, arm64 map[string]string) string {
	t.Helper()
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY base-$TARGETARCH/ /\n"})
	for arch, files := range map[string]map[string]string{"amd64": amd64, "arm64": arm64} {
		root := filepath.Join(dir, "base-"+arch)
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			switch {
			case strings.HasSuffix(name, "/"):
				var mode uint64
				if mode, err = parseOctal(content); err == nil {
					if err = os.Mkdir(p, 0o755); err == nil {
						err = os.Chmod(p, os.FileMode(mode))
					}
				}
			case strings.HasPrefix(content, "-> "):
				err = os.Symlink(strings.TrimPrefix(content, "-> "), p)
			default:
				err = os.WriteFile(p, []byte(content), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	epoch := time.Unix(1700000000, 0)
	layout := filepath.Join(t.TempDir(), "base")
	testBuild(t, dir, t.TempDir(), twoPlatforms, func(o *Options) {
		o.SourceDateEpoch = &epoch
		o.Outputs = []transport.Ref{{Transport: transport.OCILayout, Path: layout, Name: "base"}}
	})
	return "oci:" + layout + ":base"
}

func parseOctal(s string) (uint64, error) {
	var v uint64
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, os.ErrInvalid
		}
		v = v*8 + uint64(c-'0')
	}
	return v, nil
}

// layersFrom maps each COPY and WORKDIR step of a build, as
// "platform instruction", to the platform it took its layer from.
func layersFrom(res *Result) map[string]string {
	from := map[string]string{}
	for _, s := range res.Steps {
		if strings.HasPrefix(s.Instruction, "COPY") || strings.HasPrefix(s.Instruction, "WORKDIR") {
			from[s.Platform+" "+s.Instruction] = s.LayerFrom
		}
	}
	return from
}

// stepLayer is the layer digest of the step of platform whose instruction
// is instr.
func stepLayer(t *testing.T, res *Result, platform, instr string) string {
	t.Helper()
	for _, s := range res.Steps {
		if s.Platform == platform && s.Instruction == instr && s.Layer != nil {
			return s.Layer.Digest.String()
		}
	}
	t.Fatalf("no layer for %s %s", platform, instr)
	return ""
}

// Two platforms whose bases differ, but not where the steps look: each
// COPY and WORKDIR is made once, by whichever platform gets there first,
// and the other takes its layer, which both images then hold. The files
// are those the step writes on either base, owners looked up in the
// base's /etc/passwd included.
func TestMultiPlatformSharesLayersOnDifferentBases(t *testing.T) {
	etc := map[string]string{
		"etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\n",
	}
	amd64, arm64 := map[string]string{"arch": "amd64\n", "usr/lib/amd64.so": "x"}, map[string]string{"arch": "arm64\n", "usr/lib/arm64.so": "y"}
	for k, v := range etc {
		amd64[k], arm64[k] = v, v
	}
	base := archBase(t, amd64, arm64)
	df := "FROM " + base + "\nCOPY src /src\nCOPY --chown=app:app conf /etc/app/\nWORKDIR /work\nCOPY conf /usr/lib/\n"
	dir := contextDir(t, map[string]string{"Dockerfile": df, "src/a/b.txt": "b\n", "src/c.txt": "c\n", "conf": "k=v\n"})
	out, res := testBuild(t, dir, t.TempDir(), twoPlatforms)

	for _, instr := range []string{"COPY src /src", "COPY --chown=app:app conf /etc/app/", "WORKDIR /work", "COPY conf /usr/lib/"} {
		a, b := layersFrom(res)["linux/amd64 "+instr], layersFrom(res)["linux/arm64 "+instr]
		if (a == "linux/arm64") == (b == "linux/amd64") {
			t.Errorf("%s: layer from %q (amd64) and %q (arm64), want one platform's taken by the other", instr, a, b)
		}
		if la, lb := stepLayer(t, res, "linux/amd64", instr), stepLayer(t, res, "linux/arm64", instr); la != lb {
			t.Errorf("%s: layers %s and %s differ", instr, la, lb)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		root := unpackPlatform(t, out, "linux/"+arch)
		if got := readFile(t, root, "arch"); got != arch+"\n" {
			t.Errorf("%s: /arch is %q", arch, got)
		}
		if got := readFile(t, root, "src/a/b.txt") + readFile(t, root, "usr/lib/conf"); got != "b\nk=v\n" {
			t.Errorf("%s: copied files hold %q", arch, got)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/lib", arch+".so")); err != nil {
			t.Errorf("%s: the base's file next to the copy: %v", arch, err)
		}
		fi, err := os.Stat(filepath.Join(root, "etc/app/conf"))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("%s: /etc/app/conf is owned by %d:%d, want 1000:1000", arch, st.Uid, st.Gid)
		}
		if fi, err := os.Stat(filepath.Join(root, "work")); err != nil || !fi.IsDir() {
			t.Errorf("%s: /work: %v", arch, err)
		}
	}
}

// Two platforms whose bases differ where the steps look: no layer is
// taken from the other platform, and each image has what its own base
// makes of the step. Each pair differs only at a path the layer itself
// does not hold, or holds the same in both: a symlink the copy went
// through, the mode of a directory copied up, a user's uid.
func TestMultiPlatformKeepsLayersApartWhereBasesDiffer(t *testing.T) {
	amd64 := map[string]string{
		"app":        "-> opt/app",
		"opt/app/":   "755",
		"data/":      "700",
		"etc/passwd": "app:x:1000:1000::/:/bin/sh\n",
		"etc/group":  "app:x:1000:\n",
	}
	arm64 := map[string]string{
		"app/":       "755",
		"opt/app/":   "755",
		"data/":      "755",
		"etc/passwd": "app:x:2000:2000::/:/bin/sh\n",
		"etc/group":  "app:x:2000:\n",
	}
	base := archBase(t, amd64, arm64)
	df := "FROM " + base + "\nCOPY x /app/\nCOPY x /data/\nCOPY --chown=app x /y\n"
	dir := contextDir(t, map[string]string{"Dockerfile": df, "x": "x\n"})
	out, res := testBuild(t, dir, t.TempDir(), twoPlatforms)
	for step, from := range layersFrom(res) {
		if from != "" {
			t.Errorf("%s took the layer of %s", step, from)
		}
	}
	for _, c := range []struct {
		arch, at, notAt string
		dataMode        os.FileMode
		uid             uint32
	}{{"amd64", "opt/app/x", "app/x", 0o700, 1000}, {"arm64", "app/x", "opt/app/x", 0o755, 2000}} {
		root := unpackPlatform(t, out, "linux/"+c.arch)
		if got := readFile(t, root, c.at); got != "x\n" {
			t.Errorf("%s: /%s holds %q", c.arch, c.at, got)
		}
		if c.arch == "amd64" {
			if fi, err := os.Lstat(filepath.Join(root, "app")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("amd64: /app is no longer the base's symlink (%v)", err)
			}
		} else if _, err := os.Lstat(filepath.Join(root, c.notAt)); err == nil {
			t.Errorf("arm64: /%s exists: the amd64 layer", c.notAt)
		}
		if fi, err := os.Stat(filepath.Join(root, "data")); err != nil || fi.Mode().Perm() != c.dataMode {
			t.Errorf("%s: /data is %v (%v), want mode %v", c.arch, fi.Mode(), err, c.dataMode)
		}
		fi, err := os.Stat(filepath.Join(root, "y"))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != c.uid {
			t.Errorf("%s: /y is owned by %d, want %d", c.arch, st.Uid, c.uid)
		}
	}
}
