package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// workload is one benchmark: it prepares its inputs and measures phases.
type workload struct {
	name string
	run  func(b *bench) ([]result, error)
}

var workloads = []workload{
	{"monorepo", monorepo},
	{"steps", steps},
	{"bigfile", bigfile},
	{"manyfiles", manyfiles},
}

// phases measures a context the three usual ways: cold (empty cache),
// warm (nothing changed) and edit (after edit changed something), with
// every tool of the bench (mybuild in each mode, then the peers), one
// tool after the other within each run, so that the machine's drift hits
// them alike. targets are mybuild's, phase by phase.
func (b *bench) phases(name, ctx string, edit func(i int) error, targets [3]string) ([]result, error) {
	tools := b.phaseTools()
	phaseNames := [3]string{"cold", "warm", "edit"}
	samples := make([][3][]sample, len(tools))
	for p := range phaseNames {
		for i := 0; i < b.runs; i++ {
			if p == 2 {
				if err := edit(i); err != nil {
					return nil, err
				}
			}
			for _, k := range order(i, len(tools)) {
				t := tools[k]
				if p == 0 {
					if err := t.reset(name); err != nil {
						return nil, fmt.Errorf("%s: empty the cache: %w", t.label(), err)
					}
				}
				// What the tool before wrote is flushed first, not
				// by this build's own fsync: on ext4 in ordered mode
				// an fsync writes out the whole journal transaction.
				// A cold build starts with its inputs, and only them,
				// in the page cache (freshMemory). And what a daemon
				// still does after its build is left to end.
				syscall.Sync()
				if p == 0 && b.freshMemory != nil {
					if err := b.freshMemory(b.inputs(ctx)...); err != nil {
						return nil, err
					}
				}
				waitIdle(30 * time.Second)
				s, err := t.build(name, ctx)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", t.label(), err)
				}
				samples[k][p] = append(samples[k][p], s)
			}
		}
	}
	var rs []result
	for k, t := range tools {
		for p, phase := range phaseNames {
			r := summarize(name, phase, "", samples[k][p])
			if t.name == "mybuild" {
				r.Target = targets[p]
				if len(b.modes) > 1 {
					r.Mode = t.mode
				}
			}
			if len(b.peers) > 0 {
				r.Tool, r.Version = t.name, t.version
			}
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// debianFrom is the FROM of the Debian base: its copy in the loopback
// registry when peers are measured, else the layout.
func (b *bench) debianFrom() (string, error) {
	if b.registry != nil {
		return b.debianRef, nil
	}
	return b.debianBase()
}

// inputs are what a build of ctx reads besides its cache: the context
// and the base images, in the registry or as files.
func (b *bench) inputs(ctx string) []string {
	ins := []string{ctx}
	if b.registry != nil {
		ins = append(ins, b.registry.storage)
	}
	for _, p := range []string{filepath.Join(b.work, "debian"), filepath.Join(b.work, "busybox.tar")} {
		if _, err := os.Stat(p); err == nil {
			ins = append(ins, p)
		}
	}
	return ins
}

// order is the order in which run i measures n tools: as given in even
// runs, reversed in odd ones, so that none gains from coming later
// (inputs in the page cache) or loses from it (the disk still writing
// back the other's output).
func order(i, n int) []int {
	ks := make([]int, n)
	for k := range ks {
		ks[k] = k
		if i%2 == 1 {
			ks[k] = n - 1 - k
		}
	}
	return ks
}

// monorepo: a Debian base, a COPY of Go's src tree, a RUN that copies a
// subtree, a RUN that deletes a large directory.
func monorepo(b *bench) ([]result, error) {
	base, err := b.debianFrom()
	if err != nil {
		return nil, err
	}
	ctx := filepath.Join(b.work, "monorepo")
	if err := goSource(filepath.Join(ctx, "src")); err != nil {
		return nil, err
	}
	df := fmt.Sprintf("FROM %s\nCOPY src /src\nRUN cp -a /src/net /net-copy\nRUN rm -rf /src/cmd\n", base)
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		return nil, err
	}
	// Real checkouts are older than the stat cache's racy window.
	time.Sleep(2500 * time.Millisecond)
	edited := filepath.Join(ctx, "src/fmt/print.go")
	orig, err := os.ReadFile(edited)
	if err != nil {
		return nil, err
	}
	edit := func(i int) error {
		return os.WriteFile(edited, append(orig, fmt.Sprintf("\n// edit %d\n", i)...), 0o644)
	}
	return b.phases("monorepo", ctx, edit, [3]string{"≤ 5 s", "≤ 0.5 s", "≤ 3 s"})
}

// steps: 30 trivial RUN steps on busybox (from the loopback registry
// when peers are measured); the edit adds a step at the end.
func steps(b *bench) ([]result, error) {
	base := b.busyboxRef
	if b.registry == nil {
		var err error
		if base, err = b.busyboxBase(); err != nil {
			return nil, err
		}
	}
	ctx := filepath.Join(b.work, "steps")
	if err := b.freshDir(ctx); err != nil {
		return nil, err
	}
	var df strings.Builder
	fmt.Fprintf(&df, "FROM %s\n", base)
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&df, "RUN echo %d > /step-%d\n", i, i)
	}
	write := func(extra string) error {
		return os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df.String()+extra), 0o644)
	}
	if err := write(""); err != nil {
		return nil, err
	}
	edit := func(i int) error {
		return write(fmt.Sprintf("RUN echo %d > /added-%d\n", time.Now().UnixNano(), i))
	}
	rs, err := b.phases("steps", ctx, edit, [3]string{"≤ 1.0 s", "≤ 0.1 s", ""})
	// Put the Dockerfile back, for the next run of the benchmark.
	write("")
	return rs, err
}

// single measures a one-RUN build from an empty cache.
func (b *bench) single(name, run, target string) ([]result, error) {
	base, err := b.busyboxBase()
	if err != nil {
		return nil, err
	}
	ctx := filepath.Join(b.work, name)
	if err := b.freshDir(ctx); err != nil {
		return nil, err
	}
	df := fmt.Sprintf("FROM %s\nRUN %s\n", base, run)
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		return nil, err
	}
	cacheDir := filepath.Join(b.work, name+"-cache")
	var samples []sample
	for i := 0; i < b.runs; i++ {
		if err := b.freshDir(cacheDir); err != nil {
			return nil, err
		}
		s, err := b.build("--cache-dir", cacheDir, "-t", filepath.Join(b.work, name+".tar"), ctx)
		if err != nil {
			return nil, err
		}
		samples = append(samples, s)
	}
	return []result{summarize(name, "cold", target, samples)}, nil
}

// bigfile: one RUN that writes a 1 GiB file.
func bigfile(b *bench) ([]result, error) {
	return b.single("bigfile", "dd if=/dev/zero of=/big bs=1M count=1024 2>/dev/null", "peak RSS ≤ 200 MB")
}

// manyfiles: one RUN that creates 200,000 small files.
func manyfiles(b *bench) ([]result, error) {
	return b.single("manyfiles", "mkdir /many && cd /many && seq 1 200000 | xargs touch", "peak RSS ≤ 300 MB")
}
