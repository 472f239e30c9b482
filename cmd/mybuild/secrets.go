package main

import (
	"fmt"
	"os"
	"strings"
)

// maxSecret bounds a secret, as BuildKit does (500 KiB).
const maxSecret = 500 << 10

// parseSecrets reads --secret values, as docker build does:
// id=ID,src=FILE (also source=), id=ID,env=VAR, or id=ID alone for the
// environment variable ID.
func parseSecrets(values []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, v := range values {
		var id, src, env string
		for _, field := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(field, "=")
			if !ok {
				return nil, usagef("--secret %q: %q is not key=value", v, field)
			}
			switch strings.ToLower(k) {
			case "id":
				id = val
			case "src", "source":
				src = val
			case "env":
				env = val
			case "type":
				if val != "file" && val != "env" {
					return nil, usagef("--secret %q: type is file or env", v)
				}
			default:
				return nil, usagef("--secret %q: unknown key %q", v, k)
			}
		}
		if id == "" {
			return nil, usagef("--secret %q: missing id=", v)
		}
		var data []byte
		switch {
		case src != "":
			var err error
			if data, err = os.ReadFile(src); err != nil {
				return nil, fmt.Errorf("--secret id=%s: %w", id, err)
			}
		default:
			if env == "" {
				env = id
			}
			val, ok := os.LookupEnv(env)
			if !ok {
				return nil, fmt.Errorf("--secret id=%s: the environment variable %s is not set", id, env)
			}
			data = []byte(val)
		}
		if len(data) > maxSecret {
			return nil, fmt.Errorf("--secret id=%s: larger than %d KiB", id, maxSecret>>10)
		}
		out[id] = data
	}
	return out, nil
}
