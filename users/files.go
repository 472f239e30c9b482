package users

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
)

// ReadFile reads a file of the image by absolute path, as os.ReadFile would
// inside the root. A missing file is reported with fs.ErrNotExist.
type ReadFile func(name string) ([]byte, error)

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// readLines returns the colon-separated fields of each non-comment line of
// the file, or nothing when the file does not exist.
func readLines(read ReadFile, name string, minFields int) ([][]string, error) {
	data, err := read(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var lines [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) < minFields {
			continue
		}
		lines = append(lines, fields)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return lines, nil
}

func readPasswd(read ReadFile) ([]passwdEntry, error) {
	lines, err := readLines(read, "/etc/passwd", 6)
	if err != nil {
		return nil, err
	}
	var out []passwdEntry
	for _, f := range lines {
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
	}
	return out, nil
}

func readGroup(read ReadFile) ([]groupEntry, error) {
	lines, err := readLines(read, "/etc/group", 3)
	if err != nil {
		return nil, err
	}
	var out []groupEntry
	for _, f := range lines {
		gid, err := parseID(f[2])
		if err != nil {
			continue
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return uint32(n), nil
}
