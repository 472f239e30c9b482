package runtest

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"
)

// Timeout is how long Expect and Wait wait.
const Timeout = 20 * time.Second

// Lines sends each line of r, without its "\n" or a terminal's "\r\n",
// and closes the channel at the end of r.
func Lines(r io.Reader) <-chan string {
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- strings.TrimSuffix(sc.Text(), "\r")
		}
		close(lines)
	}()
	return lines
}

// Start runs fn in the background with a writer for its output, and
// returns the lines of that output and, once fn returned, its error.
func Start(fn func(out io.Writer) error) (<-chan string, <-chan error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := fn(pw)
		pw.Close()
		done <- err
	}()
	return Lines(pr), done
}

// Expect fails the test unless the next line is want.
func Expect(t testing.TB, lines <-chan string, want string) {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("output ended; want line %q", want)
		}
		if l != want {
			t.Fatalf("got line %q, want %q", l, want)
		}
	case <-time.After(Timeout):
		t.Fatalf("no line %q after %v", want, Timeout)
	}
}

// Wait returns what done delivers, failing the test if it takes too long.
func Wait(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(Timeout):
		t.Fatalf("still running after %v", Timeout)
		return nil
	}
}
