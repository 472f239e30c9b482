package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// entries lists dir, to find temp files left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Write(p, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "new" {
		t.Fatalf("read %q, %v", data, err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("dir holds %q", names)
	}
}

// A failing write, or a panicking one, leaves the old file and no temp
// file.
func TestWriteFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := Write(p, func(w io.Writer) error { io.WriteString(w, "half"); return boom }); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not go through")
			}
		}()
		Write(p, func(w io.Writer) error { io.WriteString(w, "half"); panic("boom") })
	}()
	if data, _ := os.ReadFile(p); string(data) != "old" {
		t.Errorf("file holds %q", data)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("temp files left behind: %q", names)
	}
}

// BeforeRename runs with the new content written whole in its temp file
// and the old file still in place; its error leaves the old file and no
// temp file.
func TestBeforeRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }
	check := func() error {
		if data, _ := os.ReadFile(p); string(data) != "old" {
			t.Errorf("before the rename, the file holds %q", data)
		}
		names := entries(t, dir)
		if len(names) != 2 {
			t.Fatalf("before the rename, dir holds %q", names)
		}
		for _, n := range names {
			if n != "f" {
				if data, _ := os.ReadFile(filepath.Join(dir, n)); string(data) != "new" {
					t.Errorf("before the rename, the temp file holds %q", data)
				}
			}
		}
		return nil
	}
	if err := Write(p, write, BeforeRename(check)); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(p); string(data) != "new" {
		t.Errorf("after Write, the file holds %q", data)
	}
	os.WriteFile(p, []byte("old"), 0o644)
	boom := errors.New("boom")
	if err := Write(p, write, BeforeRename(func() error { return boom })); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "old" {
		t.Errorf("after a failed BeforeRename, the file holds %q", data)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("temp files left behind: %q", names)
	}
}

// StartWriteback empties the buffer into the temp file while the write
// goes on; WithoutSync, there is no sync to spare, and it leaves the
// buffer as it is.
func TestStartWriteback(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want int64 // the temp file's size after StartWriteback
	}{
		{"synced", nil, 3},
		{"without sync", []Option{WithoutSync()}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			err := Write(p, func(w io.Writer) error {
				if _, err := io.WriteString(w, "new"); err != nil {
					return err
				}
				if err := StartWriteback(w); err != nil {
					return err
				}
				temps, err := filepath.Glob(filepath.Join(dir, ".f.tmp-*"))
				if err != nil || len(temps) != 1 {
					t.Fatalf("temp files %q, %v", temps, err)
				}
				fi, err := os.Stat(temps[0])
				if err != nil {
					return err
				}
				if fi.Size() != tc.want {
					t.Errorf("the temp file holds %d bytes, want %d", fi.Size(), tc.want)
				}
				_, err = io.WriteString(w, " and more")
				return err
			}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if data, err := os.ReadFile(p); err != nil || string(data) != "new and more" {
				t.Errorf("read %q, %v", data, err)
			}
		})
	}
	if err := StartWriteback(io.Discard); err != nil {
		t.Errorf("StartWriteback of another writer: %v", err)
	}
}
