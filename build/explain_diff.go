package build

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mybuild/mybuild/cache"
)

// missText gathers the parts of a Miss.
type missText struct {
	items   []string
	changes []string
}

func (t *missText) add(item string, changes ...string) {
	t.items = append(t.items, item)
	for _, c := range changes {
		if len(t.changes) < maxChanges {
			t.changes = append(t.changes, c)
		}
	}
}

// compare names what differs between an earlier record of a step and
// its inputs now: the parent, the instruction, then each field of the
// key, in words, with names but never values of the environment.
func (b *builder) compare(ctx context.Context, st *stage, old *cache.Record, in *stepInputs) *Miss {
	var t missText
	m := &Miss{}
	o := old.Inputs
	if o.Parent != in.Parent && o.Parent != "" && in.Parent != "" {
		switch {
		case st.prevFrom:
			t.add("base image changed", "parent")
		case st.prevMissed:
			t.add("parent step missed", "parent")
			m.DecidedBy = st.firstMiss
		default:
			t.add("parent step changed", "parent")
		}
	}
	instrChanged := o.Instruction != in.Instruction
	if instrChanged {
		t.add("instruction changed", "instruction")
	}
	expanded := false
	for _, name := range unionNames(o.Fields, in.Fields) {
		if o.Fields[name] == in.Fields[name] {
			continue
		}
		switch name {
		case "parent", "link":
			if name == "link" {
				t.add("--link changed", "--link")
			}
		case "created_by", "instruction", "args":
			expanded = true
		case "env":
			if b.compareEnv(&t, o, in) == 0 {
				t.add("environment changed", "env")
			}
		case "files":
			b.compareFiles(ctx, &t, o, in)
		default:
			if !instrChanged {
				b.compareField(&t, m, name, o, in)
			}
		}
	}
	if expanded && !instrChanged && len(t.items) == 0 {
		// An ARG's key has the values it gives in its expanded text.
		if o.Fields["env"] != "" || b.compareEnv(&t, o, in) == 0 {
			t.add("instruction changed after expansion", "instruction")
		}
	}
	if len(t.items) == 0 {
		t.add("an input of its key changed")
	}
	m.Reason, m.Changes = strings.Join(t.items, "; "), t.changes
	return m
}

// compareField names a field that changed, with its old and new value
// when the record keeps it as it is.
func (b *builder) compareField(t *missText, m *Miss, name string, o *cache.Inputs, in *stepInputs) {
	switch name {
	case "network", "platform":
		// Set by flags, these are shown; user, workdir and dest may hold
		// the value of a build arg, and are only named.
		ov, ok1 := o.Values[name]
		nv, ok2 := in.Values[name]
		if ok1 && ok2 {
			t.add(fmt.Sprintf("%s changed: %s -> %s", name, orNone(ov), orNone(nv)), name)
			return
		}
		t.add(name+" changed", name)
	case "from":
		if in.from != nil {
			t.add(fmt.Sprintf("stage %s changed", in.from.name), "stage "+in.from.name)
			m.DecidedBy = in.from.firstMiss
			return
		}
		t.add("the stage of --from changed", "from")
	case "mounts":
		t.add("--mount options or stages changed", "mounts")
	case "downloads":
		t.add("downloaded content changed", "downloads")
	case "source_date_epoch":
		t.add("source date epoch changed", "source date epoch")
	case "heredoc", "data":
		t.add("heredoc changed", "heredoc")
	case "clear_cmd":
		t.add("inherited CMD changed", "cmd")
	case "chown", "chmod", "exclude", "parents", "unpack", "unpack_remote":
		t.add("--"+name+" changed", "--"+name)
	default:
		if strings.HasPrefix(name, "pipe:") {
			t.add("heredoc changed", "heredoc")
			return
		}
		t.add(strings.ReplaceAll(name, "_", " ")+" changed", name)
	}
}

// compareEnv names the variables of a RUN's environment, or of those an
// ARG gives, that changed, as build args when they are. It says how many
// it named.
func (b *builder) compareEnv(t *missText, o *cache.Inputs, in *stepInputs) int {
	// An ARG that gives no value keeps no Env, but its Args.
	if o.Env == nil && len(o.Args) == 0 || in.Env == nil && len(in.Args) == 0 {
		return 0
	}
	args := map[string]bool{}
	for _, a := range append(append([]string{}, o.Args...), in.Args...) {
		args[a] = true
	}
	var names []string
	for _, k := range unionNames(o.Env, in.Env) {
		if o.Env[k] != in.Env[k] {
			names = append(names, k)
		}
	}
	for _, k := range names {
		what, added, removed := "env "+k, " added", " removed"
		if args[k] {
			what, added, removed = "build arg "+k, " set", " unset"
		}
		switch {
		case o.Env[k] == "":
			t.add(what+added, what)
		case in.Env[k] == "":
			t.add(what+removed, what)
		default:
			t.add(what+" changed", what)
		}
	}
	return len(names)
}

// compareFiles names the files that changed, were added and were
// removed.
func (b *builder) compareFiles(ctx context.Context, t *missText, o *cache.Inputs, in *stepInputs) {
	old := b.fileList(ctx, o.Files)
	if old == nil || in.files == nil {
		t.add("files changed", "files")
		return
	}
	var changed, added, removed []string
	seen := map[string]bool{}
	for _, f := range in.files {
		seen[f.Path] = true
		switch d, ok := old[f.Path]; {
		case !ok:
			added = append(added, f.Path)
		case d != f.Digest:
			changed = append(changed, f.Path)
		}
	}
	for p := range old {
		if !seen[p] {
			removed = append(removed, p)
		}
	}
	sort.Strings(removed)
	n := len(t.items)
	for _, g := range []struct {
		paths []string
		verb  string
	}{{changed, "changed"}, {added, "added"}, {removed, "removed"}} {
		if len(g.paths) > 0 {
			t.add(fileCount(len(g.paths), g.verb, len(t.items) == n)+": "+listSome(g.paths, 5), g.paths...)
		}
	}
	if len(t.items) == n {
		t.add("sources changed", "sources")
	}
}

// fileCount is "1 file changed" for the first group, "2 added" after it.
func fileCount(n int, verb string, first bool) string {
	switch {
	case !first:
		return fmt.Sprintf("%d %s", n, verb)
	case n == 1:
		return "1 file " + verb
	}
	return fmt.Sprintf("%d files %s", n, verb)
}

// listSome joins the first n names, and says how many more there are.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// unionNames lists the keys of two maps, sorted.
func unionNames[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
