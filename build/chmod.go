package build

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// parseChmod parses an octal --chmod value.
func parseChmod(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		if strings.ContainsAny(s, "ugoa+-=rwxXst,") && !strings.ContainsAny(s, "89") {
			return 0, fmt.Errorf("--chmod=%s: symbolic modes are not supported yet; use an octal mode", s)
		}
		return 0, fmt.Errorf("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777", s)
	}
	if n > 0o7777 {
		return 0, fmt.Errorf("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777", s)
	}
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}
