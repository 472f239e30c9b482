// Package registry pulls and pushes images and step cache entries over the distribution API.
package registry
