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
type runMount interface {
	// fields adds what the step's result depends on through the mount.
	fields(k *cache.KeyBuilder)
	// prepare makes the mount when the step runs.
	prepare(ctx context.Context) (prepared, error)
}

// prepared is a mount made for one run of a step: what the sandbox
// mounts (nil for a secret given only as an environment variable, or an
// optional one not given), the environment it adds, and what to release
// once the step is done (nil: nothing).
type prepared struct {
	mount   *sandbox.Mount
	env     []string
	release func()
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
			rm = tmpfsMount{target: target, size: m.SizeLimit}
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

// tmpfsMount is a fresh tmpfs.
type tmpfsMount struct {
	target string
	size   int64
}

func (m tmpfsMount) fields(k *cache.KeyBuilder) {
	k.String("tmpfs", m.target).String("size", strconv.FormatInt(m.size, 10))
}

func (m tmpfsMount) prepare(context.Context) (prepared, error) {
	return prepared{mount: &sandbox.Mount{Kind: sandbox.MountTmpfs, Target: m.target, Size: m.size}}, nil
}

// planBind plans a bind mount of the context or, with from=, of a stage.
// Read-only unless rw; writes to an rw bind are thrown away, as in
// BuildKit.
func (b *builder) planBind(ctx context.Context, m *instructions.Mount, target string) (runMount, error) {
	if m.Target == "" {
		return nil, errors.New("target is required")
	}
	if m.From != "" {
		from, err := b.fromStage(m.From)
		if err != nil {
			return nil, err
		}
		return &stageBind{b: b, from: from, source: m.Source, target: target, ro: m.ReadOnly}, nil
	}
	src := m.Source
	if src == "" {
		src = "."
	}
	matches, err := b.bctx.Resolve(src)
	if err != nil {
		return nil, err
	}
	if len(matches) != 1 {
		return nil, fmt.Errorf("source %s: names %d paths, want one", src, len(matches))
	}
	files, err := b.bctx.Walk(matches[0].Path)
	if err != nil {
		return nil, err
	}
	if err := b.bctx.Hash(ctx, files); err != nil {
		return nil, err
	}
	b.materials.noteContext(matches[0].Path, files)
	return &contextBind{b: b, rel: matches[0].Path, files: files, target: target, ro: m.ReadOnly}, nil
}

// stageBind binds a path of a stage's tree: a file as it is, read-only;
// a directory as an overlay of the stage's layers, whose writes are
// thrown away.
type stageBind struct {
	b              *builder
	from           *stage
	source, target string
	ro             bool
}

func (m *stageBind) fields(k *cache.KeyBuilder) {
	k.String("bind", m.target).String("from", m.from.key.String()).String("source", path.Clean("/"+m.source)).String("ro", strconv.FormatBool(m.ro))
}

func (m *stageBind) prepare(ctx context.Context) (prepared, error) {
	stack, err := m.b.stack(ctx, m.from)
	if err != nil {
		return prepared{}, err
	}
	src, err := stack.Resolve(path.Clean("/" + m.source))
	if err != nil {
		return prepared{}, err
	}
	e, err := stack.Lstat(src)
	if err != nil {
		return prepared{}, fmt.Errorf("source %s: %w", m.source, err)
	}
	if !e.IsDir() {
		return prepared{mount: &sandbox.Mount{Kind: sandbox.MountBind, Source: e.HostPath, Target: m.target, ReadOnly: true, File: true}}, nil
	}
	return prepared{mount: &sandbox.Mount{Kind: sandbox.MountOverlay, Lower: stack.Dirs(), Source: src, Target: m.target, ReadOnly: m.ro}}, nil
}

// contextBind binds a path of the build context, without what
// .dockerignore hides.
type contextBind struct {
	b      *builder
	rel    string // in the context
	files  []buildcontext.File
	target string
	ro     bool
}

func (m *contextBind) fields(k *cache.KeyBuilder) {
	k.String("bind", m.target).String("source", m.rel).String("ro", strconv.FormatBool(m.ro))
	fileFields(k, m.files, m.b.opts.ContextOwners)
}

// prepare binds a file read-only (BuildKit never writes it back), and a
// directory directly when nothing in it is hidden and it is read-only;
// else as an overlay, with a layer of whiteouts over what is hidden.
func (m *contextBind) prepare(context.Context) (prepared, error) {
	host := filepath.Join(m.b.bctx.Root(), m.rel)
	if !m.files[0].Info.IsDir() {
		return prepared{mount: &sandbox.Mount{Kind: sandbox.MountBind, Source: host, Target: m.target, ReadOnly: true, File: true}}, nil
	}
	hidden, err := m.b.bctx.Hidden(m.rel)
	if err != nil {
		return prepared{}, err
	}
	if len(hidden) == 0 && m.ro {
		return prepared{mount: &sandbox.Mount{Kind: sandbox.MountBind, Source: host, Target: m.target, ReadOnly: true}}, nil
	}
	p := prepared{mount: &sandbox.Mount{Kind: sandbox.MountOverlay, Lower: []string{host}, Target: m.target, ReadOnly: m.ro}}
	if len(hidden) > 0 {
		wh, err := m.b.whiteoutLayer(hidden)
		if err != nil {
			return prepared{}, err
		}
		p.mount.Lower = []string{wh, host}
		p.release = func() { os.RemoveAll(wh) }
	}
	return p, nil
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

// planSecret plans a secret: a read-only file (default
// /run/secrets/<id>), or an environment variable with env=. Its bytes go
// to the sandbox through a pipe and a private tmpfs only.
func (b *builder) planSecret(m *instructions.Mount, target string) (runMount, error) {
	s := &secretMount{secrets: b.opts.Secrets, id: m.CacheID, target: target, required: m.Required,
		uid: optUint(m.UID, 0), gid: optUint(m.GID, 0), mode: fs.FileMode(optUint(m.Mode, 0o400))}
	if m.Source != "" {
		s.id = m.Source
	}
	if s.id == "" {
		if m.Target == "" {
			return nil, errors.New("one of id, source or target is required")
		}
		s.id = path.Base(m.Target)
	}
	if m.Env != nil {
		s.env = *m.Env
		if s.env == "" {
			s.env = strings.ToUpper(s.id)
		}
	}
	if m.Target == "" && m.Env == nil {
		s.target = "/run/secrets/" + path.Base(s.id)
	}
	s.file = m.Target != "" || m.Env == nil
	return s, nil
}

// secretMount is a secret given with --secret, as a file, an environment
// variable, or both.
type secretMount struct {
	secrets         map[string][]byte
	id, target, env string
	file, required  bool
	uid, gid        uint64
	mode            fs.FileMode
}

// fields keys on where the secret goes, never on its bytes.
func (m *secretMount) fields(k *cache.KeyBuilder) {
	k.String("secret", m.id).String("target", m.target).String("env", m.env).
		String("owner", fmt.Sprintf("%d:%d:%o", m.uid, m.gid, m.mode))
}

func (m *secretMount) prepare(context.Context) (prepared, error) {
	data, ok := m.secrets[m.id]
	if !ok {
		if m.required {
			return prepared{}, fmt.Errorf("secret %q is required: pass --secret id=%s,src=FILE", m.id, m.id)
		}
		return prepared{}, nil
	}
	var p prepared
	if m.env != "" {
		p.env = []string{m.env + "=" + string(data)}
	}
	if m.file {
		p.mount = &sandbox.Mount{Kind: sandbox.MountFile, Target: m.target, Data: data, UID: int(m.uid), GID: int(m.gid), Mode: m.mode}
	}
	return p, nil
}

// planSSH forwards the builder's ssh agent (SSH_AUTH_SOCK).
func (b *builder) planSSH(m *instructions.Mount, target string) (runMount, error) {
	if m.Source != "" {
		return nil, errors.New("ssh mounts take no source")
	}
	if m.Target == "" {
		target = defaultSSHTarget
	}
	if b.opts.SSHAuthSock == "" {
		return nil, errors.New("SSH_AUTH_SOCK is not set: start an ssh-agent (eval $(ssh-agent); ssh-add) and build again")
	}
	return sshMount{sock: b.opts.SSHAuthSock, target: target}, nil
}

// sshMount is the builder's ssh agent socket.
type sshMount struct{ sock, target string }

func (m sshMount) fields(k *cache.KeyBuilder) { k.String("ssh", m.target) }

func (m sshMount) prepare(context.Context) (prepared, error) {
	return prepared{
		mount: &sandbox.Mount{Kind: sandbox.MountBind, Source: m.sock, Target: m.target, File: true},
		env:   []string{"SSH_AUTH_SOCK=" + m.target},
	}, nil
}

func optUint(v *uint64, def uint64) uint64 {
	if v == nil {
		return def
	}
	return *v
}

// fileFields adds what a list of context files contributes to a key, with
// their owners as owners says (Options.ContextOwners).
// They count as the field "files" of the key's Fields.
func fileFields(k *cache.KeyBuilder, files []buildcontext.File, owners func(uid, gid uint32) (uint32, uint32)) {
	defer k.Group(k.Group("files"))
	for _, f := range files {
		k.String("path", f.Rel)
		fileKeyFields(k, f, owners)
	}
}

// fileKeyFields adds what one file contributes to a key, but its path.
func fileKeyFields(k *cache.KeyBuilder, f buildcontext.File, owners func(uid, gid uint32) (uint32, uint32)) {
	k.String("mode", strconv.FormatUint(uint64(f.Info.Mode()), 8))
	uid, gid := ownerOf(f.Info)
	if owners != nil {
		uid, gid = owners(uid, gid)
	}
	k.String("owner", fmt.Sprintf("%d:%d", uid, gid))
	k.String("size", strconv.FormatInt(sizeOf(f.Info), 10))
	k.String("link", f.Link)
	k.String("content", f.Digest.String())
	k.String("rdev", strconv.FormatUint(rdevOf(f.Info), 10))
	for _, x := range f.Xattrs {
		k.Bytes("xattr:"+x.Name, x.Value)
	}
}
