package parser

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// CanonicalString renders a command (after Expand) in a stable form for
// cache keys and image history. Equal strings mean equal commands, whatever
// the source spelling:
//
//   - the instruction is upper-cased, and flags come in a fixed order, only
//     when they differ from their defaults (RUN --network=default is RUN);
//   - exec form is compact JSON (RUN ["echo","hi"]); shell form is the
//     command text as is (RUN echo hi), or a JSON string when the text could
//     be misread (empty, starting with [ or ", or holding control
//     characters);
//   - every other value is written bare when it is printable with no
//     space, quote or backslash, and as a JSON string otherwise; keys also
//     quote "=". So ENV K V and ENV K=V both give ENV K=V, and
//     COPY ["a b", "/x/"] gives COPY "a b" /x/.
//
// cmd must come from Parse: BuildKit keeps RUN flag values in state only
// its parser sets.
func CanonicalString(cmd instructions.Command) string {
	var c canon
	switch cmd := cmd.(type) {
	case *instructions.RunCommand:
		c.run(cmd)
	case *instructions.CopyCommand:
		c.copy(cmd)
	case *instructions.AddCommand:
		c.add(cmd)
	case *instructions.EnvCommand:
		c.kvs("ENV", cmd.Env)
	case *instructions.LabelCommand:
		c.kvs("LABEL", cmd.Labels)
	case *instructions.ArgCommand:
		c.arg(cmd)
	case *instructions.CmdCommand:
		c.put("CMD")
		c.cmdline(cmd.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		c.put("ENTRYPOINT")
		c.cmdline(cmd.ShellDependantCmdLine)
	case *instructions.ShellCommand:
		c.put("SHELL", jsonArray(cmd.Shell))
	case *instructions.HealthCheckCommand:
		c.healthcheck(cmd)
	case *instructions.WorkdirCommand:
		c.put("WORKDIR", word(cmd.Path))
	case *instructions.UserCommand:
		c.put("USER", word(cmd.User))
	case *instructions.StopSignalCommand:
		c.put("STOPSIGNAL", word(cmd.Signal))
	case *instructions.MaintainerCommand:
		c.put("MAINTAINER", word(cmd.Maintainer))
	case *instructions.ExposeCommand:
		c.put("EXPOSE")
		c.words(slices.Sorted(slices.Values(cmd.Ports)))
	case *instructions.VolumeCommand:
		c.put("VOLUME")
		c.words(cmd.Volumes)
	case *instructions.OnbuildCommand:
		c.put("ONBUILD", shellWord(cmd.Expression))
	case nil:
		return ""
	default:
		c.put(strings.ToUpper(cmd.Name()))
	}
	return strings.Join(c, " ")
}

// canon collects the space-separated parts of a canonical string.
type canon []string

func (c *canon) put(parts ...string) { *c = append(*c, parts...) }

func (c *canon) words(ws []string) {
	for _, w := range ws {
		c.put(word(w))
	}
}

// flag adds --name=value, or nothing for an empty value.
func (c *canon) flag(name, value string) {
	if value != "" {
		c.put("--" + name + "=" + word(value))
	}
}

// boolFlag adds --name when set.
func (c *canon) boolFlag(name string, set bool) {
	if set {
		c.put("--" + name)
	}
}

func (c *canon) optBoolFlag(name string, v *bool) {
	if v != nil {
		c.put("--" + name + "=" + strconv.FormatBool(*v))
	}
}

func (c *canon) cmdline(cl instructions.ShellDependantCmdLine) {
	if cl.PrependShell {
		c.put(shellWord(strings.Join(cl.CmdLine, " ")))
	} else {
		c.put(jsonArray(cl.CmdLine))
	}
	for _, f := range cl.Files {
		c.put("<<" + jsonValue(f))
	}
}

func (c *canon) run(cmd *instructions.RunCommand) {
	c.put("RUN")
	used := func(f string) bool { return slices.Contains(cmd.FlagsUsed, f) }
	if used("network") {
		if n := instructions.GetNetwork(cmd); n != instructions.NetworkDefault {
			c.flag("network", n)
		}
	}
	if used("security") {
		if s := instructions.GetSecurity(cmd); s != instructions.SecuritySandbox {
			c.flag("security", s)
		}
	}
	if used("device") {
		for _, dev := range instructions.GetDevices(cmd) {
			c.put("--device=" + jsonValue(dev))
		}
	}
	if used("mount") {
		for _, m := range instructions.GetMounts(cmd) {
			c.put("--mount=" + jsonValue(m))
		}
	}
	c.cmdline(cmd.ShellDependantCmdLine)
}

func (c *canon) copy(cmd *instructions.CopyCommand) {
	c.put("COPY")
	c.flag("from", cmd.From)
	c.flag("chown", cmd.Chown)
	c.flag("chmod", cmd.Chmod)
	c.boolFlag("link", cmd.Link)
	c.boolFlag("parents", cmd.Parents)
	for _, e := range cmd.ExcludePatterns {
		c.flag("exclude", e)
	}
	c.sources(cmd.SourcesAndDest)
}

func (c *canon) add(cmd *instructions.AddCommand) {
	c.put("ADD")
	c.flag("chown", cmd.Chown)
	c.flag("chmod", cmd.Chmod)
	c.boolFlag("link", cmd.Link)
	c.optBoolFlag("keep-git-dir", cmd.KeepGitDir)
	c.flag("checksum", cmd.Checksum)
	c.optBoolFlag("unpack", cmd.Unpack)
	for _, e := range cmd.ExcludePatterns {
		c.flag("exclude", e)
	}
	c.sources(cmd.SourcesAndDest)
}

func (c *canon) sources(s instructions.SourcesAndDest) {
	c.words(s.SourcePaths)
	for _, sc := range s.SourceContents {
		c.put("<<" + jsonValue(sc))
	}
	c.put(word(s.DestPath))
}

func (c *canon) kvs(name string, kvs instructions.KeyValuePairs) {
	c.put(name)
	for _, kv := range kvs {
		c.put(key(kv.Key) + "=" + word(kv.Value))
	}
}

func (c *canon) arg(cmd *instructions.ArgCommand) {
	c.put("ARG")
	for _, a := range cmd.Args {
		if a.Value == nil {
			c.put(key(a.Key))
		} else {
			c.put(key(a.Key) + "=" + word(*a.Value))
		}
	}
}

func (c *canon) healthcheck(cmd *instructions.HealthCheckCommand) {
	c.put("HEALTHCHECK")
	h := cmd.Health
	if h == nil {
		return
	}
	duration := func(name string, d time.Duration) {
		if d != 0 {
			c.flag(name, d.String())
		}
	}
	duration("interval", h.Interval)
	duration("timeout", h.Timeout)
	duration("start-period", h.StartPeriod)
	duration("start-interval", h.StartInterval)
	if h.Retries != 0 {
		c.flag("retries", strconv.Itoa(h.Retries))
	}
	switch {
	case len(h.Test) == 1 && h.Test[0] == "NONE":
		c.put("NONE")
	case len(h.Test) == 2 && h.Test[0] == "CMD-SHELL":
		c.put("CMD", shellWord(h.Test[1]))
	case len(h.Test) > 0 && h.Test[0] == "CMD":
		c.put("CMD", jsonArray(h.Test[1:]))
	default:
		c.put(jsonArray(h.Test))
	}
}

// word renders a value bare when it cannot be misread, else quoted.
func word(s string) string {
	if s == "" || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return r == '"' || r == '\'' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return quote(s)
	}
	return s
}

// key is word for the left of "=".
func key(s string) string {
	if strings.Contains(s, "=") {
		return quote(s)
	}
	return word(s)
}

// shellWord renders shell-form text: bare unless it could be taken for
// JSON or for a quoted word, or holds control characters.
func shellWord(s string) string {
	if s == "" || s[0] == '[' || s[0] == '"' || s != strings.TrimSpace(s) || !utf8.ValidString(s) ||
		strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }) {
		return quote(s)
	}
	return s
}

// quote is a JSON string, or for invalid UTF-8, which JSON would turn into
// U+FFFD and so merge with other strings, a Go quoted string. JSON never
// writes \x, so the two cannot be confused.
func quote(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return jsonValue(s)
}

// jsonArray is a JSON array of quoted strings.
func jsonArray(s []string) string {
	q := make([]string, len(s))
	for i, e := range s {
		q[i] = quote(e)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// jsonValue is compact JSON without HTML escaping. It cannot fail for the
// strings and plain structs it is given. Structs (heredoc bodies, mounts,
// devices: none of them supported yet) lose invalid UTF-8 on the way.
func jsonValue(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return strconv.Quote(err.Error())
	}
	return strings.TrimSuffix(b.String(), "\n")
}
