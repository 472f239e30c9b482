package parser

import (
	"errors"
	"strings"
	"testing"
)

func TestExpandWord(t *testing.T) {
	env := []string{"A=1", "E=", "S=a b", "N"}
	for _, tc := range []struct {
		escape rune
		word   string
		env    []string
		want   string
		err    string
	}{
		{word: "$A", want: "1"},
		{word: "${A}", want: "1"},
		{word: "x${A}y$A", want: "x1y1"},
		{word: "$UNSET", want: ""},
		{word: "${A:-d}", want: "1"},
		{word: "${UNSET:-d}", want: "d"},
		{word: "${E:-d}", want: "d"},
		{word: "${E-d}", want: ""},
		{word: "${UNSET-d}", want: "d"},
		{word: "${A:+alt}", want: "alt"},
		{word: "${E:+alt}", want: ""},
		{word: "${E+alt}", want: "alt"},
		{word: "${UNSET:+alt}", want: ""},
		{word: "${UNSET:-$A}", want: "1"},
		{word: "${N:-unset}", want: "unset"}, // "N" without "=" is set, empty
		{word: `\$A`, want: "$A"},
		{word: `'$A'`, want: "$A"},
		{word: `"$A"`, want: "1"},
		{word: `"\$A"`, want: "$A"},
		{word: `a\ b`, want: "a b"},
		{word: "$S", want: "a b"},
		{word: "$", want: "$"},
		{word: "$A", env: []string{"A=1", "A=2"}, want: "2"},
		{escape: '`', word: "`$A", want: "$A"},
		{escape: '`', word: `C:\$A`, want: `C:\1`},
		{word: "${A", err: `expand "${A": syntax error: missing '}'`},
		{word: "${A:-x", err: `expand "${A:-x": syntax error: missing '}'`},
		{word: "${}", err: `expand "${}": syntax error: bad substitution`},
		{word: "${UNSET:?must be set}", err: `expand "${UNSET:?must be set}": UNSET: must be set`},
		{word: "a\xffb", err: `expand "a\xffb": invalid UTF-8`},
		{word: `"open`, err: `expand "\"open": unexpected end of statement while looking for matching double-quote`},
	} {
		d := &Dockerfile{Escape: tc.escape}
		e := env
		if tc.env != nil {
			e = tc.env
		}
		got, err := d.ExpandWord(tc.word, e)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ExpandWord(%q) error = %v, want %q", tc.word, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ExpandWord(%q) = %q, %v, want %q", tc.word, got, err, tc.want)
		}
	}
}

func TestExpandWords(t *testing.T) {
	d := &Dockerfile{}
	got, err := d.ExpandWords(`a "b c" $L '$L'`, []string{"L=d e"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b c", "d", "e", "$L"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ExpandWords = %q, want %q", got, want)
	}
	if _, err := d.ExpandWords("${", nil); err == nil {
		t.Error("ExpandWords(${) succeeded")
	}
}

// TestExpand expands the one command after FROM and compares its canonical
// form: this is what the build sees.
func TestExpand(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin", "HOME=/root", "U=app", "G=staff", "V=1.2", "P=8080", "SIG=SIGINT", "PORTS=80 443"}
	for _, tc := range []struct {
		src, want string
	}{
		{"ENV PATH=/opt/bin:$PATH", "ENV PATH=/opt/bin:/usr/bin:/bin"},
		{"ENV A=1 B=$A", `ENV A=1 B=""`}, // pairs see the env from before the ENV
		{"ENV OLD $HOME/x", "ENV OLD=/root/x"},
		{`ENV Q="$U and $G"`, `ENV Q="app and staff"`},
		{"WORKDIR $HOME/app", "WORKDIR /root/app"},
		{"WORKDIR ${WD:-/srv}", "WORKDIR /srv"},
		{"COPY --chown=$U:$G --chmod=755 src/$V/*.go /dst/$V/", "COPY --chown=app:staff --chmod=755 src/1.2/*.go /dst/1.2/"},
		{`COPY ["$U file", "/$G/"]`, `COPY "app file" /staff/`},
		{"USER ${U}:${G}", "USER app:staff"},
		{"USER ${NOBODY:-nobody}", "USER nobody"},
		{`LABEL $U.version=$V "desc"="$U \$V"`, `LABEL app.version=1.2 desc="app $V"`},
		{"VOLUME /data/$U", "VOLUME /data/app"},
		{"VOLUME [\"/a/$U\", \"/b\"]", "VOLUME /a/app /b"},
		{"STOPSIGNAL $SIG", "STOPSIGNAL SIGINT"},
		{"EXPOSE $P/tcp 53/udp", "EXPOSE 53/udp 8080/tcp"},
		{"EXPOSE $PORTS", "EXPOSE 443 80"},   // ports split after expansion
		{"RUN echo $HOME", "RUN echo $HOME"}, // the shell expands RUN
		{`CMD ["echo", "$HOME"]`, `CMD ["echo","$HOME"]`},
		{"ENTRYPOINT exec $HOME/run", "ENTRYPOINT exec $HOME/run"},
		{"HEALTHCHECK CMD curl localhost:$P", "HEALTHCHECK CMD curl localhost:$P"},
		{`SHELL ["/bin/$U"]`, `SHELL ["/bin/$U"]`},
		{"MAINTAINER $U", "MAINTAINER $U"},
	} {
		d := mustParse(t, "FROM alpine\n"+tc.src+"\n")
		cmd := d.Stages[0].Commands[0]
		if err := d.Expand(cmd, env); err != nil {
			t.Errorf("Expand(%s): %v", tc.src, err)
			continue
		}
		if got := CanonicalString(cmd); got != tc.want {
			t.Errorf("Expand(%s) = %s, want %s", tc.src, got, tc.want)
		}
	}
}

func TestExpandEscapeToken(t *testing.T) {
	d := mustParse(t, "# escape=`\nFROM alpine\nWORKDIR C:\\$D\\x\nENV P=`$D\n")
	env := []string{"D=data"}
	want := []string{`WORKDIR "C:\\data\\x"`, "ENV P=$D"}
	for i, cmd := range d.Stages[0].Commands {
		if err := d.Expand(cmd, env); err != nil {
			t.Fatal(err)
		}
		if got := CanonicalString(cmd); got != want[i] {
			t.Errorf("got %s, want %s", got, want[i])
		}
	}
}

func TestExpandError(t *testing.T) {
	d := mustParse(t, "FROM alpine\nRUN true\nCOPY a \\\n  ${DEST:?required} \n")
	cmd := d.Stages[0].Commands[1]
	err := d.Expand(cmd, nil)
	var pe *Error
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Fatalf("Expand error = %#v, want an *Error at line 3", err)
	}
	if got, want := err.Error(), `Dockerfile:3: expand "${DEST:?required}": DEST: required`; got != want {
		t.Errorf("Expand error = %q, want %q", got, want)
	}
}
