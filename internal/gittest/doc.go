// Package gittest makes git repositories for tests and serves them over git:// (git daemon) and https:// (git http-backend behind a TLS server with a certificate it makes).
package gittest
