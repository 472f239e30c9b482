package main

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"

	"github.com/mybuild/mybuild/build"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/isolation"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/transport"
)

// driver is the root filesystem driver of the build's isolation mode.
// In place, it leaves alone everything the build reads or writes outside
// the image (keepPaths), and the system's CA certificates are loaded
// before the root changes.
func (o *buildOptions) driver(mode isolation.Mode, facts isolation.Facts, store *cache.Store, opts build.Options, warn func(string)) (rootfs.Driver, error) {
	var keep []string
	if mode == isolation.InPlace {
		var err error
		if keep, err = isolation.KeepInPlace(facts, o.keepPaths(store, opts)...); err != nil {
			return nil, err
		}
		_, _ = x509.SystemCertPool()
	}
	return isolation.NewDriver(mode, store, keep, warn)
}

// keepPaths are the files and directories of the build outside the
// image: the cache, the context and Dockerfile, named contexts, outputs
// (and the directories their temporary files go to), secrets, the ssh
// agent, the registry credentials.
func (o *buildOptions) keepPaths(store *cache.Store, opts build.Options) []string {
	paths := []string{store.Root(), opts.Context, opts.Dockerfile, opts.SSHAuthSock,
		o.iidFile, o.metadataFile, o.cpuProfile, dockerConfigDir()}
	for _, c := range opts.Contexts {
		paths = append(paths, c.Dir)
		if c.Image.Transport != transport.Docker {
			paths = append(paths, c.Image.Path)
		}
	}
	withParent := func(p string) {
		if p == "" {
			return
		}
		paths = append(paths, p)
		if abs, err := filepath.Abs(p); err == nil && filepath.Dir(abs) != "/" {
			paths = append(paths, filepath.Dir(abs))
		}
	}
	for _, out := range opts.Outputs {
		if out.Transport != transport.Docker {
			withParent(out.Path)
		}
	}
	for _, e := range opts.Exports {
		withParent(e.Dest)
	}
	for _, s := range o.secrets {
		for _, field := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(field, "=")
			if k == "src" || k == "source" {
				paths = append(paths, v)
			}
		}
	}
	return paths
}

// enterRootless runs the command again in a user namespace (see
// isolation.EnterRootless), and exits with its code.
func enterRootless(ctx context.Context, facts isolation.Facts, s streams) error {
	code, err := isolation.EnterRootless(ctx, facts, s.argv)
	if err != nil {
		return err
	}
	return &exitError{code: code}
}

// rootlessIfUser runs the command again in the rootless mode's user
// namespace when a normal user runs it and that mode works here.
func rootlessIfUser(ctx context.Context, s streams) error {
	if os.Getuid() == 0 || isolation.InRootless() {
		return nil
	}
	d, facts, err := isolation.Decide(ctx, isolation.Auto, false)
	if err != nil || d.Mode != isolation.Rootless {
		return nil // the command works on what the user may reach
	}
	return enterRootless(ctx, facts, s)
}

// dockerConfigDir is where registry credentials are read from.
func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".docker")
	}
	return ""
}
