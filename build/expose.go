package build

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// exposedPorts parses expanded EXPOSE values into "port/proto", as
// BuildKit does: ranges are spelled out and the protocol defaults to tcp.
func exposedPorts(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		ports, err := parsePort(v)
		if err != nil {
			return nil, err
		}
		out = append(out, ports...)
	}
	return out, nil
}

func parsePort(raw string) ([]string, error) {
	spec := raw
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		spec = spec[i+1:]
	}
	port, proto, _ := strings.Cut(spec, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid port %q: invalid proto %q", raw, proto)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	start, err := portNumber(lo)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %w", raw, err)
	}
	end := start
	if isRange {
		if end, err = portNumber(hi); err != nil || end < start {
			return nil, fmt.Errorf("invalid port range %q", raw)
		}
	}
	var ports []string
	for p := start; p <= end; p++ {
		ports = append(ports, strconv.Itoa(p)+"/"+proto)
	}
	return ports, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	return n, nil
}

// checkSignal accepts what Docker's signal.ParseSignal accepts: a number,
// or a name with or without SIG.
func checkSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return fmt.Errorf("invalid signal: %s", s)
		}
		return nil
	}
	name := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "SIG"))
	if strings.HasPrefix(name, "RTMIN") || strings.HasPrefix(name, "RTMAX") {
		return nil
	}
	if unix.SignalNum("SIG"+name) == 0 {
		return fmt.Errorf("invalid signal: %s", s)
	}
	return nil
}
