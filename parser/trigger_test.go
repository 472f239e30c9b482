package parser

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestParseTrigger(t *testing.T) {
	d := &Dockerfile{Name: "Dockerfile"}
	cmd, err := d.ParseTrigger("RUN echo $HOME", 7)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := cmd.(*instructions.RunCommand); !ok || CanonicalString(r) != "RUN echo $HOME" {
		t.Fatalf("got %T %s", cmd, CanonicalString(cmd))
	}
	for expr, want := range map[string]string{
		"FROM alpine":               "Dockerfile:7: ONBUILD trigger \"FROM alpine\": FROM isn't allowed",
		"MAINTAINER me":             "isn't allowed as an ONBUILD trigger",
		"ONBUILD RUN x":             "isn't allowed",
		"RUN --device=/dev/fuse ls": "Dockerfile:7: ONBUILD trigger",
		"BOGUS x":                   "unknown instruction: BOGUS",
	} {
		_, err := d.ParseTrigger(expr, 7)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTrigger(%q) = %v, want %q", expr, err, want)
		}
	}
}

func TestOnbuildIsRecorded(t *testing.T) {
	d, err := Parse("Dockerfile", strings.NewReader("FROM scratch\nONBUILD RUN echo hi\nONBUILD COPY . /app\n"))
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, c := range d.Stages[0].Commands {
		exprs = append(exprs, c.(*instructions.OnbuildCommand).Expression)
	}
	if strings.Join(exprs, "|") != "RUN echo hi|COPY . /app" {
		t.Errorf("expressions %q", exprs)
	}
}
