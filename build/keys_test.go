package build

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"
)

// Keys stay what they were for steps whose result did not change: these
// are the keys of keyVersion v2 (v2 came with the gzip layers cut into
// members, issue 16; v1's were main's at a494ab1, before issue 13). A
// change of these is a deliberate change of the key encoding, which makes
// every build miss once.
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
		{"FROM scratch AS src", "sha256:c1f958453124fd7e57d19e2c6b565aa2eaee30b0e708b3706741fc4b919921ff"},
		{"COPY a.txt /a.txt", "sha256:f1c5065e61d141740ab46bb5462bec8d2942528a536528fb304ff6e3801b276c"},
		{"FROM scratch", "sha256:c1f958453124fd7e57d19e2c6b565aa2eaee30b0e708b3706741fc4b919921ff"},
		{"COPY a.txt /plain", "sha256:f4c28ce1091f708bd9afddb027be536ecd300f65b8c4d0a0ec5ea3a09ac8f108"},
		{"COPY --chown=5:6 --chmod=0750 dir /d/", "sha256:e7f6a9ff834f8ec859e18f9e62bc6da523243f08b71b9af7b3c50fb721fc0dea"},
		{"COPY *.txt /txt/", "sha256:97d5f15502aa4e374483c67a7b03c756fc881322f5e48da5d64618778d9cf7c9"},
		{"COPY --from=src /a.txt /froma", "sha256:a3ad5e96041510eda4602184cccfe18212c8d71072a5547fde7b9aea9c31a5c4"},
		{"ADD b.sh /b.sh", "sha256:f433d944bf9b5d48a2ddd56c10d1075dfaacd60ceeed9d6667ebbaee62849935"},
		{"ADD --chmod=0700 b.sh /bm/", "sha256:62e08035f100d4a36a249beb791a3368a98640ce7c83ad34b3a745fc960dbe6c"},
		{"WORKDIR /w", "sha256:26b94993a2c3a248060dba48a69e578e0861dad4cb14f8e6455c63c1b8755779"},
		{"WORKDIR sub", "sha256:577ec2e411fab8f48d37f24db796d5e648bbfd3a05c92a48e51b3fb4077e5793"},
		{"ENV A=1", "sha256:eb2ce2861a0f7f9df608d5693a048e832b6893b906f6fbf27fd2cc0622a769fe"},
		{"COPY <<EOF /heredoc", "sha256:9b2f601331aeff6172e847e08de43820846178e4d71cb15c1abce4f35a32303a"},
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
