package build

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/parser"
)

// TestCheckBaseImageEnv: Check reads the base image's config, so a
// variable its ENV defines is no UndefinedVar, and one nothing defines
// is; it builds nothing.
func TestCheckBaseImageEnv(t *testing.T) {
	base, _ := testBuild(t, contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nENV GOPATH=/go\n"}), t.TempDir())
	df := "FROM oci-archive:" + base + "\nENV PATH=$GOPATH/bin:$PATH\nCOPY $GOPTAH /x\n"
	dir := contextDir(t, map[string]string{"Dockerfile": df})
	res, err := Check(context.Background(), Options{Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range res.Warnings {
		got = append(got, w.Short())
	}
	want := "UndefinedVar: Usage of undefined variable '$GOPTAH' (did you mean $GOPATH?) (line 3)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("warnings %q, want [%q]", got, want)
	}
}

// TestBuildCheckErrorFailsFirst: with "# check=error=true", a lint
// warning fails the build before any step, and is reported as a warning
// too.
func TestBuildCheckErrorFailsFirst(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": "# check=error=true\nFROM scratch\nENV A=1\nCMD run\n"})
	w := &warnings{}
	_, res, err := tryBuild(t, dir, t.TempDir(), func(o *Options) { o.Reporter = w })
	if !errors.Is(err, parser.ErrLint) || res != nil {
		t.Fatalf("build: %v, want the lint error", err)
	}
	if want := "Dockerfile:4: lint violation found for rules: JSONArgsRecommended (line 4)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(w.msgs) != 1 || !strings.HasPrefix(w.msgs[0], "JSONArgsRecommended: ") {
		t.Errorf("warnings %q", w.msgs)
	}
}
