package parser

import (
	"strings"
	"testing"
)

// canonical parses "FROM alpine\n"+src and returns the canonical string of
// its one command.
func canonical(t *testing.T, src string) string {
	t.Helper()
	d := mustParse(t, "FROM alpine\n"+src+"\n")
	return CanonicalString(d.Stages[0].Commands[0])
}

func TestCanonicalString(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"RUN echo hi", "RUN echo hi"},
		{`RUN ["echo", "hi"]`, `RUN ["echo","hi"]`},
		{`RUN ["echo hi"]`, `RUN ["echo hi"]`},
		{`RUN [ -f x ]`, `RUN "[ -f x ]"`},
		{`RUN "quoted"`, `RUN "\"quoted\""`},
		{"run  --network=host   make  all", "RUN --network=host make  all"},
		{"RUN --network=default make", "RUN make"},
		{"COPY --chmod=644 --chown=0:0 a b /c/", "COPY --chown=0:0 --chmod=644 a b /c/"},
		{`COPY ["a b", "<c>", "/d/"]`, `COPY "a b" <c> /d/`},
		{"ENV K V", "ENV K=V"},
		{"ENV K=", `ENV K=""`},
		{`ENV K="a b" L=x`, `ENV K="\"a b\"" L=x`},
		{`LABEL "a=b"=c`, `LABEL "\"a"="b\"=c"`}, // BuildKit splits at the first =
		{"EXPOSE 443 80/udp", "EXPOSE 443 80/udp"},
		{"HEALTHCHECK --retries=2 --interval=90s CMD true", "HEALTHCHECK --interval=1m30s --retries=2 CMD true"},
		{"HEALTHCHECK --timeout=0s CMD [\"true\"]", `HEALTHCHECK CMD ["true"]`},
		{"healthcheck none", "HEALTHCHECK NONE"},
		{`SHELL ["pwsh", "-c"]`, `SHELL ["pwsh","-c"]`},
		{"CMD", `CMD ""`},
		{"CMD []", "CMD []"},
		{"USER 1000", "USER 1000"},
		{"STOPSIGNAL 9", "STOPSIGNAL 9"},
		{"MAINTAINER a <b@c>", `MAINTAINER "a <b@c>"`},
	} {
		if got := canonical(t, tc.src); got != tc.want {
			t.Errorf("CanonicalString(%s) = %s, want %s", tc.src, got, tc.want)
		}
	}
	if got := CanonicalString(nil); got != "" {
		t.Errorf("CanonicalString(nil) = %q", got)
	}
}

// TestCanonicalEquivalent checks that spellings with the same meaning
// render alike.
func TestCanonicalEquivalent(t *testing.T) {
	for _, pair := range [][2]string{
		{"ENV K V", "ENV K=V"},
		{"env K=V", "ENV K=V"},
		{`COPY ["a", "/b"]`, "COPY a /b"},
		{`VOLUME ["/a", "/b"]`, "VOLUME /a /b"},
		{"RUN --network=default x", "RUN x"},
		{"EXPOSE 80 443", "EXPOSE 443 80"},
		{"HEALTHCHECK --interval=60s CMD x", "HEALTHCHECK --interval=1m CMD x"},
	} {
		a, b := canonical(t, pair[0]), canonical(t, pair[1])
		if a != b {
			t.Errorf("%s -> %s but %s -> %s", pair[0], a, pair[1], b)
		}
	}
}

// TestCanonicalDistinct checks that commands that differ in meaning, in
// particular shell and exec form, never render alike.
func TestCanonicalDistinct(t *testing.T) {
	srcs := []string{
		"RUN echo hi",
		`RUN ["echo", "hi"]`,
		`RUN ["echo hi"]`,
		`RUN ["echo","hi"] x`,
		`RUN "echo hi"`,
		"RUN echo  hi",
		"RUN --network=none echo hi",
		"CMD echo hi",
		`CMD ["echo", "hi"]`,
		`ENTRYPOINT ["echo", "hi"]`,
		`ENV A="b C=d"`,
		"ENV A=b C=d",
		`LABEL "a=b"=c`,
		`LABEL a="b=c"`,
		`COPY ["a b", "c"]`,
		"COPY a b c",
		"HEALTHCHECK CMD echo hi",
		`HEALTHCHECK CMD ["echo", "hi"]`,
		"USER \"\"",
		"USER x",
		"WORKDIR /\xff",
		"WORKDIR /\ufffd",
	}
	seen := map[string]string{}
	for _, src := range srcs {
		got := canonical(t, src)
		if prev, ok := seen[got]; ok {
			t.Errorf("%s and %s both render as %s", prev, src, got)
		}
		seen[got] = src
	}
}

// TestCanonicalKeepsSupportedFlags checks that every flag the support table
// allows shows in the canonical string: a flag that changes the result
// must change the cache key.
func TestCanonicalKeepsSupportedFlags(t *testing.T) {
	for key, ok := range support {
		instr, flag, isFlag := strings.Cut(key, " --")
		if !isFlag || !ok || instr == "FROM" {
			continue
		}
		src := instr + " --" + flag + "=" + flagValue[flag] + " " + flagArgs[instr]
		if got := canonical(t, src); !strings.Contains(got, " --"+flag+"=") && !strings.Contains(got, " --"+flag+" ") {
			t.Errorf("CanonicalString(%s) = %s: flag dropped", src, got)
		}
	}
}
