package gitsource

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/gittest"
)

// basic is the Authorization header of a GIT_AUTH_TOKEN.
func basic(token string) string {
	return "basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
}

// The first of GIT_AUTH_HEADER.<host>, GIT_AUTH_TOKEN.<host>,
// GIT_AUTH_HEADER and GIT_AUTH_TOKEN gives the Authorization header, for
// the remote (any of GitHub's for github.com); an scp-like remote gets
// none.
func TestForRemote(t *testing.T) {
	all := map[string][]byte{
		"GIT_AUTH_HEADER.example.com": []byte("bearer host-header"),
		"GIT_AUTH_TOKEN.example.com":  []byte("host-token"),
		"GIT_AUTH_HEADER":             []byte("bearer header"),
		"GIT_AUTH_TOKEN":              []byte("token"),
	}
	without := func(ids ...string) map[string][]byte {
		m := map[string][]byte{}
		for k, v := range all {
			m[k] = v
		}
		for _, id := range ids {
			delete(m, id)
		}
		return m
	}
	for _, tc := range []struct {
		remote         string
		secrets        map[string][]byte
		key, wantValue string
	}{
		{"https://example.com/r.git", all, "http.https://example.com/r.git.extraheader", "Authorization: bearer host-header"},
		{"https://example.com/r.git", without("GIT_AUTH_HEADER.example.com"), "http.https://example.com/r.git.extraheader", "Authorization: " + basic("host-token")},
		{"https://other.org/r.git", all, "http.https://other.org/r.git.extraheader", "Authorization: bearer header"},
		{"https://other.org/r.git", without("GIT_AUTH_HEADER"), "http.https://other.org/r.git.extraheader", "Authorization: " + basic("token")},
		{"https://github.com/o/r.git", without("GIT_AUTH_HEADER"), "http.https://github.com/.extraheader", "Authorization: " + basic("token")},
		{"https://other.org/r.git", nil, "", ""},
		{"git@example.com:o/r.git", all, "", ""},
	} {
		o := Options{Secrets: tc.secrets}.forRemote(tc.remote)
		if o.authKey != tc.key || o.authValue != tc.wantValue {
			t.Errorf("%s with %d secrets: %q = %q, want %q = %q", tc.remote, len(tc.secrets), o.authKey, o.authValue, tc.key, tc.wantValue)
		}
	}
}

// A remote that wants an Authorization header is fetched with the token
// of GIT_AUTH_TOKEN, and refused without it; the token never shows in an
// error.
func TestTokenAuth(t *testing.T) {
	root := t.TempDir()
	url, caFile := gittest.HTTPSAuth(t, root, basic("s3cret"))
	repo := gittest.NewRepo(t, root, "private")
	commit := repo.Commit("one", map[string]string{"README": "private\n"})
	repo.Push()
	r, _, err := Parse(url + "private.git")
	if err != nil {
		t.Fatal(err)
	}

	_, err = Resolve(t.Context(), r, Options{CAFile: caFile})
	if err == nil || !strings.Contains(err.Error(), "private.git") {
		t.Errorf("without a token: %v", err)
	}
	_, err = Resolve(t.Context(), r, Options{CAFile: caFile, Secrets: map[string][]byte{"GIT_AUTH_TOKEN": []byte("wrong")}})
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("with a wrong token: %v", err)
	}

	o := Options{CAFile: caFile, Secrets: map[string][]byte{"GIT_AUTH_TOKEN": []byte("s3cret")}}
	res, err := Resolve(t.Context(), r, o)
	if err != nil || res.Commit != commit {
		t.Fatalf("with the token: %+v, %v", res, err)
	}
	dir := t.TempDir()
	if err := Checkout(t.Context(), r, res, t.TempDir(), dir, o); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); got != "README -rw-r--r-- private" {
		t.Errorf("checkout: %q", got)
	}
}
