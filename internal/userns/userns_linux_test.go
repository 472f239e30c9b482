package userns

import "testing"

func TestIsInitial(t *testing.T) {
	for m, want := range map[string]bool{
		"         0          0 4294967295\n": true,
		"0 1000 1\n1 100000 65536\n":         false,
		"0 0 1\n":                            false,
	} {
		if got := isInitial(m); got != want {
			t.Errorf("isInitial(%q) = %v", m, got)
		}
	}
	if Inside() {
		t.Error("the tests run in the initial user namespace")
	}
}
