package devcgroup

import (
	"fmt"
	"strconv"
	"strings"
)

// Any is a major or minor number that matches every device.
const Any = -1

// Rule allows some access to some devices. Everything no rule allows is
// refused.
type Rule struct {
	// Type is 'c' (character devices) or 'b' (block devices).
	Type byte
	// Major and Minor select the devices; Any matches all.
	Major, Minor int64
	// Access is some of "rwm": read, write, mknod.
	Access string
}

// String is the rule as a line of the v1 controller's devices.allow:
// "c 1:3 rwm", "b *:* m".
func (r Rule) String() string {
	return fmt.Sprintf("%c %s:%s %s", r.Type, number(r.Major), number(r.Minor), r.Access)
}

func number(n int64) string {
	if n == Any {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

func (r Rule) validate() error {
	switch {
	case r.Type != 'c' && r.Type != 'b':
		return fmt.Errorf("devcgroup: rule %q: type must be c or b", r)
	case r.Access == "" || strings.Trim(r.Access, "rwm") != "":
		return fmt.Errorf("devcgroup: rule %q: access must be some of rwm", r)
	case r.Major < Any || r.Minor < Any || r.Major > 1<<31-1 || r.Minor > 1<<31-1:
		return fmt.Errorf("devcgroup: rule %q: bad device number", r)
	}
	return nil
}
