package users

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
)

// Exec is the identity a RUN step's process gets.
type Exec struct {
	UID, GID uint32
	// Groups are the supplementary groups.
	Groups []uint32
	// Home is the user's home directory, "/" when unknown.
	Home string
}

// LookupExec resolves a USER value ("", "name", "uid", "name:group",
// "uid:gid", ...) as runc and BuildKit do for a container process, with
// moby/sys/user: a name must exist in /etc/passwd; a number need not, and
// then gets gid 0 and home "/". The supplementary groups are the primary
// group and, without an explicit group, every group of /etc/group that
// lists the user, as containerd's WithAdditionalGIDs (and so Docker and
// BuildKit) give them.
func LookupExec(spec string, read ReadFile) (Exec, error) {
	passwd, err := open(read, "/etc/passwd")
	if err != nil {
		return Exec{}, err
	}
	group, err := open(read, "/etc/group")
	if err != nil {
		return Exec{}, err
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return Exec{}, err
	}
	ex := Exec{UID: uint32(u.Uid), GID: uint32(u.Gid), Home: u.Home, Groups: []uint32{uint32(u.Gid)}}
	if ex.Home == "" {
		ex.Home = "/"
	}
	for _, g := range u.Sgids {
		if !slices.Contains(ex.Groups, uint32(g)) {
			ex.Groups = append(ex.Groups, uint32(g))
		}
	}
	return ex, nil
}

// LookupChown resolves a COPY --chown value as BuildKit does (llb.WithUser
// and the worker's readUser): a user name takes uid and gid from
// /etc/passwd, a numeric uid is also used as the gid, and an explicit
// group overrides the gid; "root" is 0 with no lookup, and an empty group
// ("1000:") is no group. Unlike BuildKit, a name that is not found is an
// error instead of a silent 0:0.
func LookupChown(spec string, read ReadFile) (uid, gid uint32, err error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		return 0, 0, fmt.Errorf("invalid --chown %q: missing user", spec)
	}
	if hasGroup && groupPart == "" {
		hasGroup = false
	}
	if id, ok := chownID(userPart); ok {
		uid, gid = id, id
	} else {
		u, err := find(read, "/etc/passwd", userPart, user.ParsePasswdFilter, func(u user.User) bool { return u.Name == userPart })
		if err != nil {
			return 0, 0, err
		}
		uid, gid = uint32(u.Uid), uint32(u.Gid)
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if id, ok := chownID(groupPart); ok {
		return uid, id, nil
	}
	g, err := find(read, "/etc/group", groupPart, user.ParseGroupFilter, func(g user.Group) bool { return g.Name == groupPart })
	if err != nil {
		return 0, 0, err
	}
	return uid, uint32(g.Gid), nil
}

// find is the first entry of file that match accepts, parsed by parse.
func find[T any](read ReadFile, file, name string, parse func(r io.Reader, filter func(T) bool) ([]T, error), match func(T) bool) (T, error) {
	var zero T
	r, err := open(read, file)
	if err != nil {
		return zero, err
	}
	var found []T
	if r != nil {
		if found, err = parse(r, match); err != nil {
			return zero, fmt.Errorf("read %s: %w", file, err)
		}
	}
	if len(found) == 0 {
		kind, what := "user", user.ErrNoPasswdEntries
		if file == "/etc/group" {
			kind, what = "group", user.ErrNoGroupEntries
		}
		return zero, fmt.Errorf("unable to find %s %s: %w", kind, name, what)
	}
	return found[0], nil
}

// parseID parses a numeric uid or gid.
// chownID is the id a --chown part names without a lookup: a number, or
// "root", as BuildKit's parseUID reads it.
func chownID(s string) (uint32, bool) {
	if s == "root" {
		return 0, true
	}
	return parseID(s)
}

// IsChownByName reports whether a --chown value names a user or group
// that must be looked up in the image, which COPY --link cannot do.
func IsChownByName(spec string) bool {
	userPart, groupPart, _ := strings.Cut(spec, ":")
	_, userOK := chownID(userPart)
	_, groupOK := chownID(groupPart)
	return !userOK || groupPart != "" && !groupOK
}

func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}
