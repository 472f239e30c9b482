package build

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"
)

// Keys stay what they were for steps whose result did not change: these
// are the keys mybuild gave before issue 13 (main at a494ab1). A change of
// these is a deliberate change of the key encoding, which makes every
// build miss once.
func TestKeysStayStable(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM scratch AS src
COPY a.txt /a.txt
FROM scratch
COPY a.txt /plain
COPY --chown=5:6 --chmod=0750 dir /d/
COPY *.txt /txt/
COPY --from=src /a.txt /froma
ADD b.sh /b.sh
ADD --chmod=0700 b.sh /bm/
WORKDIR /w
WORKDIR sub
ENV A=1
COPY <<EOF /heredoc
hi
EOF
`,
		"a.txt": "a", "b.txt": "b", "b.sh": "#!/bin/sh\n", "dir/x": "x",
	})
	// Modes are keyed: make them what they were whatever the umask.
	for _, p := range []string{"a.txt", "b.txt", "b.sh", "dir/x", "Dockerfile"} {
		os.Chmod(filepath.Join(dir, p), 0o644)
	}
	os.Chmod(filepath.Join(dir, "dir"), 0o755)
	_, res := testBuild(t, dir, t.TempDir())
	want := []struct{ instruction, key string }{
		{"FROM scratch AS src", "sha256:d04382ef55934177f3c4187ab1b8d87233391404b4a74aa1e58ebec2792aa1bc"},
		{"COPY a.txt /a.txt", "sha256:3e7a959993b1283f561a125ceb19cce6fb13eb9a5c52566b834ef92e5f14bb26"},
		{"FROM scratch", "sha256:d04382ef55934177f3c4187ab1b8d87233391404b4a74aa1e58ebec2792aa1bc"},
		{"COPY a.txt /plain", "sha256:7472d1bd5e5cf833b638b8183844e5a94939239cf455e3f298e64c5e713a5b86"},
		{"COPY --chown=5:6 --chmod=0750 dir /d/", "sha256:a76190f14c85b20856449c80c9cc7968cab3cb4c5cf408b39986bead2286914d"},
		{"COPY *.txt /txt/", "sha256:13e542087eaf9e20ecfeccf9c91d7673077a02a82a5dbb51b7d684a9330f52ed"},
		{"COPY --from=src /a.txt /froma", "sha256:314b8f3601256a67093ef945b245405967141df3e2d3640265af07363e5e7728"},
		{"ADD b.sh /b.sh", "sha256:06fa8492f36e93a3721efc096b50efdd2a9e2ac9e845e36075df4509fa586511"},
		{"ADD --chmod=0700 b.sh /bm/", "sha256:d2767a59d686c1ff4daa9fabe527c62ac702148a8e9ea2d33542155e61f68716"},
		{"WORKDIR /w", "sha256:ff3d2d3e58e247924e73323823f53e99be9c311a3de5d350a57610928ddc0217"},
		{"WORKDIR sub", "sha256:9e74c9b0eba40e8e99f2e0bea8f5e2a8a53542c65ff2551cca183bdaf9ffefb0"},
		{"ENV A=1", "sha256:2edb4bb0bfc0ee68682a9680827b0ab25ac384e458589fd11a8d5cbc49935dea"},
		{"COPY <<EOF /heredoc", "sha256:5f9f19d747fed79fa67c9d7fe35bf93430b44894d78620d7abb847354cc18a30"},
	}
	if len(res.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(res.Steps), len(want))
	}
	for i, s := range res.Steps {
		if s.Instruction != want[i].instruction || s.Key.String() != want[i].key {
			t.Errorf("step %d %q: key %s, want %q %s", i, s.Instruction, s.Key, want[i].instruction, want[i].key)
		}
	}
}

// Keys changed where issue 13 changed results for the same inputs: an ADD
// that unpacks an archive (which files are archives changed), a COPY whose
// wildcard matched nothing (it made its destination), a COPY --from with a
// wildcard (the same, found only when it runs). These were main's keys.
func TestKeysChangedWhereResultsDid(t *testing.T) {
	dir := contextDir(t, map[string]string{
		"Dockerfile": "FROM scratch AS src\nCOPY a.txt /a.txt\nFROM scratch AS t1\nADD arch.tar /arch/\nFROM scratch AS t2\nCOPY nomatch* /never/\nFROM scratch AS t3\nCOPY --from=src /a* /fa/\n",
		"a.txt":      "a",
	})
	writeTar(t, dir, "arch.tar", &tar.Header{Typeflag: tar.TypeReg, Name: "f", Linkname: "f", Mode: 0o644})
	for _, p := range []string{"a.txt", "Dockerfile", "arch.tar"} {
		os.Chmod(filepath.Join(dir, p), 0o644)
	}
	for target, old := range map[string]string{
		"t1": "sha256:3afcd89e0342926e09ef533b0a108b5bac7472edee35ce8dcc17a52166f18812",
		"t2": "sha256:d57e54f0b8c6834123c5a268780c0f66ed512397727b3ee4434ef8075e21183c",
		"t3": "sha256:5caa836032570fd9e8237444d8c534ed643a14f75ffc89ba6bec61dab7c592d0",
	} {
		_, res := testBuild(t, dir, t.TempDir(), func(o *Options) { o.Target = target })
		if s := res.Steps[len(res.Steps)-1]; s.Key.String() == old {
			t.Errorf("%s: %q kept its key %s", target, s.Instruction, old)
		}
	}
}
