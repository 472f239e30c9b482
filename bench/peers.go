package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// peerNames are the builders -peers can measure beside mybuild.
var peerNames = []string{"buildkit", "buildah"}

// parsePeers reads -peers: a comma-separated list of peerNames, each
// once; empty is none.
func parsePeers(list string) ([]string, error) {
	if list == "" {
		return nil, nil
	}
	var names []string
	for _, n := range strings.Split(list, ",") {
		if !slices.Contains(peerNames, n) {
			return nil, fmt.Errorf("-peers: unknown peer %q (want %s)", n, strings.Join(peerNames, ", "))
		}
		if slices.Contains(names, n) {
			return nil, fmt.Errorf("-peers: %s named twice", n)
		}
		names = append(names, n)
	}
	return names, nil
}

// startPeers prepares the peers named in list: a loopback registry
// holding the Debian base of monorepo and the busybox base of steps,
// which every tool then builds from (mybuild too, so that all build the
// same Dockerfile), and a tool for each peer.
// buildkitBin holds buildkitd and buildctl.
func (b *bench) startPeers(list, buildkitBin string) error {
	names, err := parsePeers(list)
	if err != nil || len(names) == 0 {
		return err
	}
	debian, err := b.debianBase()
	if err != nil {
		return err
	}
	busybox, err := b.busyboxBase()
	if err != nil {
		return err
	}
	dir := filepath.Join(b.work, "peers", "registry")
	if err := b.freshDir(dir); err != nil {
		return err
	}
	reg, err := startRegistry(dir)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, reg.stop)
	b.registry = reg
	if b.debianRef, err = reg.push(debian, "debian", debianTag); err != nil {
		return err
	}
	if b.busyboxRef, err = reg.push(busybox, "busybox", "latest"); err != nil {
		return err
	}
	for _, n := range names {
		var t tool
		switch n {
		case "buildkit":
			t, err = b.buildkitTool(buildkitBin, reg.host)
		case "buildah":
			t, err = b.buildahTool()
		}
		if err != nil {
			return err
		}
		b.peers = append(b.peers, t)
	}
	return nil
}

// registryHost is the loopback registry's 127.0.0.1:PORT, or "" when
// no peer is measured.
func (b *bench) registryHost() string {
	if b.registry == nil {
		return ""
	}
	return b.registry.host
}

// mounted reports whether anything is mounted at or below dir.
func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return true // cannot tell: assume the worst
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// The mount point is the fifth field (octal escapes aside,
		// which the bench's own paths do not have).
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			return true
		}
	}
	return sc.Err() != nil
}

// removeUnmounted deletes dir, unless something is still mounted below
// it: deleting through a mount would reach what is mounted.
func removeUnmounted(dir string) {
	if !mounted(dir) {
		os.RemoveAll(dir)
	}
}
