package imagetest

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compatDir holds the BuildKit goldens this package's helpers serve.
const compatDir = "../../build/testdata/compat"

func TestBusybox(t *testing.T) {
	p := Busybox(t)
	if p != BusyboxPath {
		t.Errorf("Busybox = %q", p)
	}
}

func TestPrepareContext(t *testing.T) {
	src := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"Dockerfile":          0o600,
		"run.sh":              0o700,
		"sub/data.txt":        0o664,
		RootfsGolden:          0o644,
		ConfigGolden:          0o644,
		"sub/" + RootfsGolden: 0o644, // only the case's own goldens are left out
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	if err := PrepareContext(src, dst, Busybox(t)); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		got = append(got, rel+" "+info.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		". drwxr-xr-x",
		"Dockerfile -rw-r--r--",
		"busybox -rwxr-xr-x",
		"run.sh -rwxr-xr-x",
		"sub drwxr-xr-x",
		"sub/data.txt -rw-r--r--",
		"sub/rootfs.golden -rw-r--r--",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("context:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCompatGoldens checks that every case is complete and well formed, so
// that a broken regeneration does not go unnoticed until mybuild is
// compared with it.
func TestCompatGoldens(t *testing.T) {
	cases, err := CompatCases(compatDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 11 {
		t.Fatalf("found %d cases: %v", len(cases), cases)
	}
	opts := CompatOptions(t, compatDir)
	if len(opts.Ignore) == 0 {
		t.Errorf("%s lists no paths", MountpointsFile)
	}
	// Every case gets its tools from the busybox of the context. Most start
	// with the common header; those about ARG before FROM or stage names
	// cannot, but still copy busybox in.
	const copyBusybox = "COPY busybox /bin/busybox\n"
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join(compatDir, c)
			df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(df), copyBusybox) {
				t.Errorf("Dockerfile does not copy busybox in")
			}
			rootfs, err := os.ReadFile(filepath.Join(dir, RootfsGolden))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(rootfs), "\n/bin/busybox file 0755 0:0 sha256="+BusyboxPlaceholder+"\n") {
				t.Errorf("%s does not list /bin/busybox as %s", RootfsGolden, BusyboxPlaceholder)
			}
			ignored := map[string]bool{}
			for _, p := range opts.Ignore {
				ignored[p] = true
			}
			sc := bufio.NewScanner(strings.NewReader(string(rootfs)))
			for sc.Scan() {
				if p, _, _ := strings.Cut(sc.Text(), " "); ignored[p] {
					t.Errorf("%s lists ignored path %s", RootfsGolden, p)
				}
			}
			config, err := os.ReadFile(filepath.Join(dir, ConfigGolden))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(config, &doc); err != nil {
				t.Fatalf("%s: %v", ConfigGolden, err)
			}
			if _, ok := doc["created"]; ok {
				t.Errorf("%s keeps created", ConfigGolden)
			}
		})
	}
}
