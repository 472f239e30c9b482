// Package runtest watches a process a test started: its output line by line, and its end, each with a deadline.
package runtest
