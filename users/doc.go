// Package users resolves Dockerfile user specs ("name", "uid:gid", ...) against an image's /etc/passwd and /etc/group.
package users
