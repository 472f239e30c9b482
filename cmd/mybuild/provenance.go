package main

import (
	"strings"

	"github.com/mybuild/mybuild/build"
)

// provenanceHelp is --provenance's help: what it costs is said there.
const provenanceHelp = "Attach an SLSA v1 provenance attestation (true, false, or mode=min|max[,builder-id=URL][,inline-only=true][,version=v1]: max lists every COPY/ADD source file's digest). " +
	"The image is then written as an index of it and its attestation: the printed digest, and the one a tag points to, are the index's (the image manifest's is unchanged). " +
	"docker-archive:, type=local and type=tar outputs get none"

// provenanceSettings are what --provenance and --attest type=provenance ask for.
type provenanceSettings struct {
	mode build.ProvenanceMode
	// builderID, when set, is the statement's runDetails.builder.id.
	builderID string
}

// provenanceSettings reads --provenance and --attest type=provenance as buildx
// spells them: --provenance (true), --provenance=true|false|1|0,
// --provenance=mode=min|max[,…], and --attest type=provenance[,mode=…].
// The last one given wins.
func (o *buildOptions) provenanceSettings() (provenanceSettings, error) {
	var p provenanceSettings
	if o.provenanceValue != "" {
		var err error
		if p, err = parseProvenance("--provenance", o.provenanceValue); err != nil {
			return p, err
		}
	}
	for _, a := range o.attest {
		typ, rest, _ := strings.Cut(a, ",")
		if typ != "type=provenance" {
			return p, usagef("--attest %s: only type=provenance is supported (mybuild makes no SBOM)", a)
		}
		var err error
		if p, err = parseProvenance("--attest", rest); err != nil {
			return p, err
		}
	}
	return p, nil
}

// parseProvenance reads a boolean, or BuildKit's K=V attributes: mode,
// builder-id, inline-only, version and disabled. inline-only=true asks
// for what mybuild always does: an attestation only where an image index
// holds it, never a file beside a type=local or type=tar output.
func parseProvenance(flag, v string) (provenanceSettings, error) {
	switch v {
	case "", "true", "1":
		return provenanceSettings{mode: build.ProvenanceMin}, nil
	case "false", "0":
		return provenanceSettings{}, nil
	}
	p := provenanceSettings{mode: build.ProvenanceMin}
	disabled := false
	for _, f := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return provenanceSettings{}, usagef("%s %s: want true, false or KEY=VALUE attributes (mode, builder-id, inline-only, version)", flag, v)
		}
		bad := func(want string) error {
			return usagef("%s %s: %s=%s: want %s", flag, v, k, val, want)
		}
		switch k {
		case "mode":
			if val != "min" && val != "max" {
				return provenanceSettings{}, bad("min or max")
			}
			p.mode = build.ProvenanceMode(val)
		case "builder-id":
			if val == "" {
				return provenanceSettings{}, bad("the builder's URI")
			}
			p.builderID = val
		case "inline-only":
			if val != "true" && val != "false" {
				return provenanceSettings{}, bad("true or false")
			}
		case "version":
			if val != "v1" {
				return provenanceSettings{}, bad("v1 (mybuild writes SLSA provenance v1 only)")
			}
		case "disabled":
			if val != "true" && val != "false" {
				return provenanceSettings{}, bad("true or false")
			}
			disabled = val == "true"
		case "filename":
			return provenanceSettings{}, usagef("%s %s: filename is not supported: mybuild writes no provenance file beside a type=local or type=tar output", flag, v)
		case "reproducible":
			return provenanceSettings{}, usagef("%s %s: reproducible is not supported: mybuild's statement has no such field (a build under SOURCE_DATE_EPOCH gives the same statement every time)", flag, v)
		default:
			return provenanceSettings{}, usagef("%s %s: unknown attribute %q (want mode, builder-id, inline-only, version or disabled)", flag, v, k)
		}
	}
	if disabled {
		return provenanceSettings{}, nil
	}
	return p, nil
}

// isProvenanceValue tells whether the argument after a bare --provenance
// is its value, as buildx takes it (--provenance mode=max), rather than
// the context: a boolean, or KEY=VALUE attributes. A context directory
// with such a name is written ./NAME after --provenance.
func isProvenanceValue(a string) bool {
	switch a {
	case "true", "false", "1", "0":
		return true
	}
	k, _, ok := strings.Cut(strings.Split(a, ",")[0], "=")
	return ok && k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyz-") == ""
}
