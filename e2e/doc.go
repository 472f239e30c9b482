// Package e2e holds the end-to-end tests of building in place: mybuild's own image, built by mybuild, run in a private Docker engine with Docker's default security, against the same builds in the normal mode; and the same builds by a normal user in the rootless mode, against the normal mode's.
package e2e
