package main

import (
	"encoding/csv"
	"strings"

	"github.com/mybuild/mybuild/registry"
)

// sharedCache is the shared step cache the flags name, or nil: buildx's
// --cache-from type=registry,ref=R and --cache-to type=registry,ref=R are
// spellings of --cache-repo R, and a --cache-from without a --cache-to
// (or --cache-repo) reads it only.
func (o *buildOptions) sharedCache(reg *registrySettings) (*registry.CacheRepo, error) {
	repo := o.cacheRepo
	readOnly := o.repoReadOnly
	set := func(flag, r string) error {
		if repo != "" && repo != r {
			return usagef("%s: mybuild shares its cache through one repository, and %s names another (%s)", flag, r, repo)
		}
		repo = r
		return nil
	}
	for _, v := range o.cacheTo {
		r, err := parseCacheSpec("--cache-to", v, true)
		if err != nil {
			return nil, err
		}
		if err := set("--cache-to "+v, r); err != nil {
			return nil, err
		}
	}
	for _, v := range o.cacheFrom {
		r, err := parseCacheSpec("--cache-from", v, false)
		if err != nil {
			return nil, err
		}
		if err := set("--cache-from "+v, r); err != nil {
			return nil, err
		}
	}
	if len(o.cacheFrom) > 0 && len(o.cacheTo) == 0 && o.cacheRepo == "" {
		readOnly = true
	}
	if repo == "" {
		return nil, nil
	}
	cr, err := registry.NewCacheRepo(repo, o.cacheTTL, readOnly, cacheRepoOptions(reg)...)
	if err != nil {
		return nil, usagef("--cache-repo: %v", err)
	}
	return cr, nil
}

// parseCacheSpec reads a --cache-from or --cache-to value: buildx's CSV
// of key=value pairs, or a bare REF for type=registry,ref=REF. Only
// type=registry is mybuild's; mode (of --cache-to) may be min or max,
// and mybuild shares every step either way. image-manifest and
// oci-mediatypes are accepted: mybuild's entries always are OCI
// manifests.
func parseCacheSpec(flag, v string, to bool) (string, error) {
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return "", usagef("%s %s: %v", flag, v, err)
	}
	if len(fields) == 1 && !strings.Contains(fields[0], "=") {
		fields = []string{"type=registry", "ref=" + fields[0]}
	}
	typ, ref := "", ""
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return "", usagef("%s %s: %q is not key=value", flag, v, f)
		}
		switch k {
		case "type":
			typ = val
		case "ref":
			ref = val
		case "mode":
			if !to || (val != "min" && val != "max") {
				return "", usagef("%s %s: mode is min or max, for --cache-to", flag, v)
			}
		case "image-manifest", "oci-mediatypes":
		default:
			return "", usagef("%s %s: unknown key %q", flag, v, k)
		}
	}
	if typ != "registry" {
		return "", usagef("%s %s: only type=registry is supported", flag, v)
	}
	if ref == "" {
		return "", usagef("%s %s: missing ref=REGISTRY/REPO", flag, v)
	}
	if strings.ContainsAny(lastPathPart(ref), ":@") {
		return "", usagef("%s %s: ref is a repository, without a tag: mybuild keeps one tag per step in it", flag, v)
	}
	return ref, nil
}

// lastPathPart is what follows the last "/" of a reference, where a tag
// or digest is.
func lastPathPart(ref string) string {
	return ref[strings.LastIndex(ref, "/")+1:]
}
