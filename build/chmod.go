package build

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// chmodSpec is a --chmod value: an octal mode that every copied entry
// gets, or a symbolic one (u+x, g=rx, ...) applied to each entry's own
// mode, as BuildKit does with ModeStr.
type chmodSpec struct {
	octal    *fs.FileMode
	symbolic symbolicMode
	raw      string
}

// errChmodOctal is BuildKit's message for a value that is neither.
const errChmodOctal = "invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777"

// parseChmod parses a --chmod value as dockerfile2llb does: octal first;
// else symbolic, where a value that starts like a number is reported as
// a bad octal one.
func parseChmod(s string) (*chmodSpec, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err == nil {
		if n > 0o7777 {
			return nil, fmt.Errorf(errChmodOctal, s)
		}
		m := fromUnixMode(uint16(n))
		return &chmodSpec{octal: &m, raw: s}, nil
	}
	if s != "" && '0' <= s[0] && s[0] <= '9' {
		return nil, fmt.Errorf(errChmodOctal, s)
	}
	sym, err := parseSymbolic(s)
	if err != nil {
		return nil, fmt.Errorf("invalid chmod parameter: '%s': %w", s, err)
	}
	return &chmodSpec{symbolic: sym, raw: s}, nil
}

// apply is the mode an entry whose own mode is m gets.
func (c *chmodSpec) apply(m fs.FileMode) fs.FileMode {
	if c.octal != nil {
		return *c.octal
	}
	return c.symbolic.apply(m)
}

// dirPerm is the mode of the directories a copy makes: the octal mode, or
// 0755 with a symbolic one (BuildKit's copy then has no Mode).
func (c *chmodSpec) dirPerm() fs.FileMode {
	if c == nil || c.octal == nil {
		return 0o755
	}
	return *c.octal
}

// keyString is the value in the key: an octal mode as keys always had
// it, a symbolic one as written.
func (c *chmodSpec) keyString() string {
	switch {
	case c == nil:
		return ""
	case c.octal != nil:
		return strconv.FormatUint(uint64(*c.octal), 8)
	}
	return c.raw
}

// Unix mode bits, as chmod(1) numbers them.
const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
	modeSticky = 0o1000
	modeUser   = 0o700
	modeGroup  = 0o070
	modeOther  = 0o007
	// modeStandard is what "=" clears for "a" or no who: not sticky.
	modeStandard = modeSetuid | modeSetgid | modeUser | modeGroup | modeOther
)

func toUnixMode(m fs.FileMode) uint16 {
	u := uint16(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= modeSetuid
	}
	if m&fs.ModeSetgid != 0 {
		u |= modeSetgid
	}
	if m&fs.ModeSticky != 0 {
		u |= modeSticky
	}
	return u
}

func fromUnixMode(u uint16) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&modeSetuid != 0 {
		m |= fs.ModeSetuid
	}
	if u&modeSetgid != 0 {
		m |= fs.ModeSetgid
	}
	if u&modeSticky != 0 {
		m |= fs.ModeSticky
	}
	return m
}

var errSymbolic = errors.New("not a symbolic mode (chmod(1): [ugoa]*[+-=][rwxXst]*, or [+-=][ugo] to copy, comma-separated)")
