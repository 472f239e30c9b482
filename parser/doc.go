// Package parser turns a Dockerfile into typed instructions with BuildKit's front end.
package parser
