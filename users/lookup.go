package users

import (
	"fmt"
	"slices"
	"strings"
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
// "uid:gid", ...) the way runc does for a container process: a name must
// exist in /etc/passwd; a number need not, and then gets gid 0 and home "/".
// The supplementary groups are the primary group and, without an explicit
// group, every group of /etc/group that lists the user.
func LookupExec(spec string, read ReadFile) (Exec, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	passwd, err := readPasswd(read)
	if err != nil {
		return Exec{}, err
	}
	ex := Exec{Home: "/"}
	var name string
	if id, err := parseID(userPart); err == nil {
		ex.UID = id
		if p, ok := findUserByID(passwd, id); ok {
			ex.GID, ex.Home, name = p.gid, p.home, p.name
		}
	} else {
		p, ok := findUserByName(passwd, userPart)
		if !ok {
			return Exec{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
		ex.UID, ex.GID, ex.Home, name = p.uid, p.gid, p.home, p.name
	}
	if ex.Home == "" {
		ex.Home = "/"
	}
	groups, err := readGroup(read)
	if err != nil {
		return Exec{}, err
	}
	if hasGroup {
		gid, err := resolveGroup(groups, groupPart)
		if err != nil {
			return Exec{}, err
		}
		ex.GID = gid
	}
	// The primary group is a supplementary group too, as containerd's
	// WithAdditionalGIDs (and so Docker and BuildKit) make it.
	ex.Groups = []uint32{ex.GID}
	if hasGroup {
		return ex, nil
	}
	for _, g := range groups {
		if name != "" && slices.Contains(g.members, name) && !slices.Contains(ex.Groups, g.gid) {
			ex.Groups = append(ex.Groups, g.gid)
		}
	}
	return ex, nil
}

// LookupChown resolves a COPY --chown value as BuildKit does: a user name
// takes uid and gid from /etc/passwd, a numeric uid is also used as the gid,
// and an explicit group overrides the gid. Unlike BuildKit, a name that is
// not found is an error instead of a silent 0:0.
func LookupChown(spec string, read ReadFile) (uid, gid uint32, err error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		return 0, 0, fmt.Errorf("invalid --chown %q: missing user", spec)
	}
	if id, err := parseID(userPart); err == nil {
		uid, gid = id, id
	} else {
		passwd, err := readPasswd(read)
		if err != nil {
			return 0, 0, err
		}
		p, ok := findUserByName(passwd, userPart)
		if !ok {
			return 0, 0, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
		uid, gid = p.uid, p.gid
	}
	if hasGroup {
		groups, err := readGroup(read)
		if err != nil {
			return 0, 0, err
		}
		if gid, err = resolveGroup(groups, groupPart); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

func resolveGroup(groups []groupEntry, spec string) (uint32, error) {
	if spec == "" {
		return 0, fmt.Errorf("invalid group: empty name")
	}
	if id, err := parseID(spec); err == nil {
		return id, nil
	}
	for _, g := range groups {
		if g.name == spec {
			return g.gid, nil
		}
	}
	return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", spec)
}

func findUserByName(passwd []passwdEntry, name string) (passwdEntry, bool) {
	for _, p := range passwd {
		if p.name == name {
			return p, true
		}
	}
	return passwdEntry{}, false
}

func findUserByID(passwd []passwdEntry, id uint32) (passwdEntry, bool) {
	for _, p := range passwd {
		if p.uid == id {
			return p, true
		}
	}
	return passwdEntry{}, false
}
