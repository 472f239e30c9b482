// Package fstest builds filesystem fixtures for tests from a declarative list of steps.
package fstest
