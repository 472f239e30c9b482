package userns

import (
	"os"
	"strings"
	"sync"
)

// Inside tells whether this process is in a user namespace other than the
// host's, whose uid map is the whole range. The answer holds for the
// process's life: it is read once.
var Inside = sync.OnceValue(func() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return !isInitial(string(data))
})

// isInitial tells whether a uid_map is the initial namespace's.
func isInitial(uidMap string) bool {
	return strings.Join(strings.Fields(uidMap), " ") == "0 0 4294967295"
}
