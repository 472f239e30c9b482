package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/command"
)

// TestSupportCoversBuildKit checks that every instruction BuildKit knows has
// a row in the support table, so none reaches a build by omission.
func TestSupportCoversBuildKit(t *testing.T) {
	for name := range command.Commands {
		if _, ok := support[strings.ToUpper(name)]; !ok {
			t.Errorf("instruction %s has no row in the support table", strings.ToUpper(name))
		}
	}
}

// TestSupportFlagsAreBuildKitFlags checks that each flag row names a flag
// BuildKit parses, and that Parse treats it as the table says.
func TestSupportFlagsAreBuildKitFlags(t *testing.T) {
	for key, ok := range support {
		instr, flag, isFlag := strings.Cut(key, " --")
		if !isFlag {
			continue
		}
		src := "FROM alpine\n" + instr + " --" + flag + "=" + flagValue[flag] + " " + flagArgs[instr] + "\n"
		if instr == "FROM" {
			src = "FROM --" + flag + "=" + flagValue[flag] + " alpine\n"
		}
		_, err := Parse("Dockerfile", strings.NewReader(src))
		switch {
		case ok && err != nil:
			t.Errorf("%s: supported, but Parse(%q): %v", key, src, err)
		case !ok && !errors.Is(err, ErrNotSupported):
			t.Errorf("%s: unsupported, but Parse(%q) = %v", key, src, err)
		}
	}
}

var flagArgs = map[string]string{
	"RUN":         "true",
	"COPY":        ". /dst",
	"ADD":         ". /dst",
	"HEALTHCHECK": "CMD true",
}

var flagValue = map[string]string{
	"network":        "none",
	"mount":          "type=tmpfs,target=/tmp",
	"security":       "insecure",
	"device":         "/dev/fuse",
	"chown":          "1:1",
	"chmod":          "644",
	"from":           "other",
	"link":           "true",
	"parents":        "true",
	"exclude":        "*.md",
	"platform":       "linux/amd64",
	"interval":       "5s",
	"timeout":        "5s",
	"start-period":   "5s",
	"start-interval": "5s",
	"retries":        "3",
	"checksum":       "sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d",
	"keep-git-dir":   "true",
	"unpack":         "true",
}

func TestUnsupportedMessage(t *testing.T) {
	for feature, want := range map[string]string{
		"ADD":            "ADD is not supported yet",
		"RUN --mount":    "RUN --mount is not supported yet",
		"COPY --parents": "COPY --parents is not supported yet",
		"RUN heredocs":   "RUN heredocs are not supported yet",
		multiStage:       "multi-stage builds are not supported yet",
	} {
		if got := unsupported(feature).Error(); got != want {
			t.Errorf("unsupported(%q) = %q, want %q", feature, got, want)
		}
	}
}

func TestFlagNames(t *testing.T) {
	got := flagNames([]string{"--network=none", "--link", "-x", "--mount=a=b", "--", "--after"})
	want := []string{"network", "link", "mount"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("flagNames = %q, want %q", got, want)
	}
}
