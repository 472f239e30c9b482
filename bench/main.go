// Command bench measures mybuild on the workloads of bench/README.md and
// prints the medians as a markdown table, and as JSON with -json.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	// The in-place mode's helpers, in its container: -sleep is its first
	// process, -time FILE -- CMD... times a build there.
	if len(os.Args) == 2 && os.Args[1] == "-sleep" {
		// Until docker stops it: as PID 1 it dies of no signal it does
		// not handle, and a bare select{} is a deadlock to Go.
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		return
	}
	if len(os.Args) > 4 && os.Args[1] == "-time" && os.Args[3] == "--" {
		if err := timeCommand(os.Args[2], os.Args[4:]); err != nil {
			fail(err)
		}
		return
	}
	mybuild := flag.String("mybuild", "bin/mybuild", "the mybuild binary to measure")
	work := flag.String("work", "/var/tmp/mybuild-bench", "where inputs and caches go (outside the repository: it holds a copy of Go's source tree)")
	runs := flag.Int("runs", 5, "runs per phase")
	only := flag.String("only", "", "comma-separated workloads to run (default all)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	modes := flag.String("modes", "namespaces", "isolation modes to measure monorepo and steps in, compared with the first: namespaces, rootless, in-place (one container for every build), in-place-fresh (a container per build, as CI jobs)")
	baseline := flag.String("baseline", "", "another mybuild binary (say, of the main branch) to measure monorepo and steps with too, in the namespaces mode, interleaved with -mybuild's builds and compared with them")
	peers := flag.String("peers", "", "other builders to time beside mybuild on monorepo and steps, all building FROM a loopback registry: buildkit, buildah (default none)")
	buildkitBin := flag.String("buildkit-bin", "/opt/buildkit/bin", "where buildkitd and buildctl are, for -peers buildkit")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1")
		os.Exit(2)
	}

	abs, err := filepath.Abs(*mybuild)
	if err != nil {
		fail(err)
	}
	b := &bench{mybuild: abs, work: *work, runs: *runs, freshMemory: freshMemory}
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		fail(err)
	}
	if b.modes, err = b.newModes(*modes); err != nil {
		fail(err)
	}
	if *baseline != "" {
		m, err := b.baselineMode(*baseline)
		if err != nil {
			fail(err)
		}
		b.modes = append([]mode{m}, b.modes...)
	}
	if err := b.startPeers(*peers, *buildkitBin); err != nil {
		fail(err)
	}
	var results []result
	for _, w := range workloads {
		if *only != "" && !contains(strings.Split(*only, ","), w.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s\n", w.name)
		rs, err := w.run(b)
		if err != nil {
			fail(fmt.Errorf("%s: %w", w.name, err))
		}
		results = append(results, rs...)
		if err := b.emptyTrash(); err != nil {
			fail(err)
		}
	}
	cleanup()
	fmt.Print(markdown(results))
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fail(err error) {
	cleanup()
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
