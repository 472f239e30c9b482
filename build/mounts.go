package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/sandbox"
)

// defaultSSHTarget is where BuildKit puts the ssh agent socket.
const defaultSSHTarget = "/run/buildkit/ssh_agent.0"

// runMount is one --mount of a RUN, planned: what it adds to the key, and
// how to make it when the step runs.
type runMount struct {
	fields func(k *cache.KeyBuilder)
	// prepare makes the sandbox mount (ok false: nothing to mount) and the
	// environment it adds; release undoes what it holds.
	prepare func(ctx context.Context) (m sandbox.Mount, env []string, ok bool, release func(), err error)
}

// planMounts plans the --mount flags of a RUN. Keys never hold a secret,
// nor the content of a cache mount, which by design does not change keys.
func (b *builder) planMounts(ctx context.Context, c *instructions.RunCommand, workdir string) ([]runMount, error) {
	var out []runMount
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join(workdir, target)
		}
		target = path.Clean(target)
		var rm runMount
		var err error
		switch m.Type {
		case instructions.MountTypeBind:
			rm, err = b.planBind(ctx, m, target)
		case instructions.MountTypeCache:
			rm, err = b.planCache(m, target)
		case instructions.MountTypeTmpfs:
			rm = runMount{
				fields: func(k *cache.KeyBuilder) {
					k.String("tmpfs", target).String("size", strconv.FormatInt(m.SizeLimit, 10))
				},
				prepare: fixed(sandbox.Mount{Kind: sandbox.MountTmpfs, Target: target, Size: m.SizeLimit}),
			}
		case instructions.MountTypeSecret:
			rm, err = b.planSecret(m, target)
		case instructions.MountTypeSSH:
			rm, err = b.planSSH(m, target)
		default:
			err = fmt.Errorf("--mount=type=%s is not supported", m.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("--mount=type=%s: %w", m.Type, err)
		}
		if target == "/" && m.Type != instructions.MountTypeSecret && m.Type != instructions.MountTypeSSH {
			return nil, fmt.Errorf("--mount=type=%s: invalid target %q", m.Type, m.Target)
		}
		out = append(out, rm)
	}
	return out, nil
}

func fixed(m sandbox.Mount) func(context.Context) (sandbox.Mount, []string, bool, func(), error) {
	return func(context.Context) (sandbox.Mount, []string, bool, func(), error) {
		return m, nil, true, func() {}, nil
	}
}

// planBind plans a bind mount of the context or, with from=, of a stage.
// Read-only unless rw; writes to an rw bind are thrown away, as in
// BuildKit.
func (b *builder) planBind(ctx context.Context, m *instructions.Mount, target string) (runMount, error) {
	if m.Target == "" {
		return runMount{}, errors.New("target is required")
	}
	ro := m.ReadOnly
	if m.From != "" {
		from, err := b.fromStage(m.From)
		if err != nil {
			return runMount{}, err
		}
		source := path.Clean("/" + m.Source)
		return runMount{
			fields: func(k *cache.KeyBuilder) {
				k.String("bind", target).String("from", from.key.String()).String("source", source).String("ro", strconv.FormatBool(ro))
			},
			prepare: func(ctx context.Context) (sandbox.Mount, []string, bool, func(), error) {
				stack, err := b.stack(ctx, from)
				if err != nil {
					return sandbox.Mount{}, nil, false, nil, err
				}
				src, err := stack.Resolve(source)
				if err != nil {
					return sandbox.Mount{}, nil, false, nil, err
				}
				e, err := stack.Lstat(src)
				if err != nil {
					return sandbox.Mount{}, nil, false, nil, fmt.Errorf("source %s: %w", m.Source, err)
				}
				if !e.IsDir() {
					return sandbox.Mount{Kind: sandbox.MountBind, Source: e.HostPath, Target: target, ReadOnly: true, File: true}, nil, true, func() {}, nil
				}
				return sandbox.Mount{Kind: sandbox.MountOverlay, Lower: stack.Dirs(), Source: src, Target: target, ReadOnly: ro}, nil, true, func() {}, nil
			},
		}, nil
	}
	src := m.Source
	if src == "" {
		src = "."
	}
	matches, err := b.bctx.Resolve(src)
	if err != nil {
		return runMount{}, err
	}
	if len(matches) != 1 {
		return runMount{}, fmt.Errorf("source %s: names %d paths, want one", src, len(matches))
	}
	files, err := b.bctx.Walk(matches[0].Path)
	if err != nil {
		return runMount{}, err
	}
	if err := b.bctx.Hash(ctx, files); err != nil {
		return runMount{}, err
	}
	host := filepath.Join(b.bctx.Root(), matches[0].Path)
	isDir := files[0].Info.IsDir()
	return runMount{
		fields: func(k *cache.KeyBuilder) {
			k.String("bind", target).String("source", matches[0].Path).String("ro", strconv.FormatBool(ro))
			fileFields(k, files)
		},
		prepare: func(ctx context.Context) (sandbox.Mount, []string, bool, func(), error) {
			if !isDir {
				// A file: bind it, read-only (BuildKit never writes it back).
				return sandbox.Mount{Kind: sandbox.MountBind, Source: host, Target: target, ReadOnly: true, File: true}, nil, true, func() {}, nil
			}
			hidden, err := b.bctx.Hidden(matches[0].Path)
			if err != nil {
				return sandbox.Mount{}, nil, false, nil, err
			}
			if len(hidden) == 0 && ro {
				return sandbox.Mount{Kind: sandbox.MountBind, Source: host, Target: target, ReadOnly: true}, nil, true, func() {}, nil
			}
			lower := []string{host}
			release := func() {}
			if len(hidden) > 0 {
				wh, err := b.whiteoutLayer(hidden)
				if err != nil {
					return sandbox.Mount{}, nil, false, nil, err
				}
				lower = []string{wh, host}
				release = func() { os.RemoveAll(wh) }
			}
			return sandbox.Mount{Kind: sandbox.MountOverlay, Lower: lower, Target: target, ReadOnly: ro}, nil, true, release, nil
		},
	}, nil
}

// whiteoutLayer makes a layer dir that hides paths, to put over the
// context in a bind mount.
func (b *builder) whiteoutLayer(paths []string) (string, error) {
	dir, err := b.opts.Store.TempDir("whiteouts-")
	if err != nil {
		return "", err
	}
	if err := fswrite.Whiteouts(dir, paths); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// planCache plans a cache mount: a directory of the cache dir, kept from
// build to build, id'd by id= or else the target.
func (b *builder) planCache(m *instructions.Mount, target string) (runMount, error) {
	if m.Target == "" {
		return runMount{}, errors.New("target is required")
	}
	if m.From != "" || m.Source != "" {
		return runMount{}, errors.New("from= and source= are not supported yet for cache mounts")
	}
	id := m.CacheID
	if id == "" {
		id = target
	}
	sharing := string(m.CacheSharing)
	if sharing == "" {
		sharing = cache.SharingShared
	}
	uid, gid, mode := optUint(m.UID, 0), optUint(m.GID, 0), fs.FileMode(optUint(m.Mode, 0o755))
	ro := m.ReadOnly
	return runMount{
		fields: func(k *cache.KeyBuilder) {
			k.String("cache", target).String("id", id).String("sharing", sharing).
				String("owner", fmt.Sprintf("%d:%d:%o", uid, gid, mode)).String("ro", strconv.FormatBool(ro))
		},
		prepare: func(ctx context.Context) (sandbox.Mount, []string, bool, func(), error) {
			dir, release, err := b.opts.Store.CacheMount(ctx, id, sharing, func(dir string) error {
				return fswrite.Apply(dir, fswrite.Meta{Owner: fswrite.Owner{UID: uint32(uid), GID: uint32(gid)}, Mode: fs.ModeDir | mode})
			})
			if err != nil {
				return sandbox.Mount{}, nil, false, nil, err
			}
			return sandbox.Mount{Kind: sandbox.MountBind, Source: dir, Target: target, ReadOnly: ro}, nil, true, release, nil
		},
	}, nil
}

// planSecret plans a secret: a read-only file (default
// /run/secrets/<id>), or an environment variable with env=. Its bytes go
// to the sandbox through a pipe and a private tmpfs only.
func (b *builder) planSecret(m *instructions.Mount, target string) (runMount, error) {
	id := m.CacheID
	if m.Source != "" {
		id = m.Source
	}
	if id == "" {
		if m.Target == "" {
			return runMount{}, errors.New("one of id, source or target is required")
		}
		id = path.Base(m.Target)
	}
	envName := ""
	if m.Env != nil {
		envName = *m.Env
		if envName == "" {
			envName = strings.ToUpper(id)
		}
	}
	if m.Target == "" && m.Env == nil {
		target = "/run/secrets/" + path.Base(id)
	}
	mountFile := m.Target != "" || m.Env == nil
	uid, gid, mode := optUint(m.UID, 0), optUint(m.GID, 0), fs.FileMode(optUint(m.Mode, 0o400))
	return runMount{
		fields: func(k *cache.KeyBuilder) {
			k.String("secret", id).String("target", target).String("env", envName).
				String("owner", fmt.Sprintf("%d:%d:%o", uid, gid, mode))
		},
		prepare: func(context.Context) (sandbox.Mount, []string, bool, func(), error) {
			data, ok := b.opts.Secrets[id]
			if !ok {
				if m.Required {
					return sandbox.Mount{}, nil, false, nil, fmt.Errorf("secret %q is required: pass --secret id=%s,src=FILE", id, id)
				}
				return sandbox.Mount{}, nil, false, func() {}, nil
			}
			var env []string
			if envName != "" {
				env = []string{envName + "=" + string(data)}
			}
			sm := sandbox.Mount{Kind: sandbox.MountFile, Target: target, Data: data, UID: int(uid), GID: int(gid), Mode: mode}
			return sm, env, mountFile, func() {}, nil
		},
	}, nil
}

// planSSH forwards the builder's ssh agent (SSH_AUTH_SOCK).
func (b *builder) planSSH(m *instructions.Mount, target string) (runMount, error) {
	if m.Source != "" {
		return runMount{}, errors.New("ssh mounts take no source")
	}
	if m.Target == "" {
		target = defaultSSHTarget
	}
	if b.opts.SSHAuthSock == "" {
		return runMount{}, errors.New("SSH_AUTH_SOCK is not set: start an ssh-agent (eval $(ssh-agent); ssh-add) and build again")
	}
	sock := b.opts.SSHAuthSock
	return runMount{
		fields: func(k *cache.KeyBuilder) { k.String("ssh", target) },
		prepare: func(context.Context) (sandbox.Mount, []string, bool, func(), error) {
			m := sandbox.Mount{Kind: sandbox.MountBind, Source: sock, Target: target, File: true}
			return m, []string{"SSH_AUTH_SOCK=" + target}, true, func() {}, nil
		},
	}, nil
}

func optUint(v *uint64, def uint64) uint64 {
	if v == nil {
		return def
	}
	return *v
}

// fileFields adds what a list of context files contributes to a key.
func fileFields(k *cache.KeyBuilder, files []buildcontext.File) {
	for _, f := range files {
		k.String("path", f.Rel)
		k.String("mode", strconv.FormatUint(uint64(f.Info.Mode()), 8))
		uid, gid := ownerOf(f.Info)
		k.String("owner", fmt.Sprintf("%d:%d", uid, gid))
		k.String("size", strconv.FormatInt(sizeOf(f.Info), 10))
		k.String("link", f.Link)
		k.String("content", f.Digest.String())
		k.String("rdev", strconv.FormatUint(rdevOf(f.Info), 10))
		for _, x := range f.Xattrs {
			k.Bytes("xattr:"+x.Name, x.Value)
		}
	}
}
