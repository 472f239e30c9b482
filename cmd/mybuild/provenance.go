package main

import (
	"strings"

	"github.com/mybuild/mybuild/build"
)

// provenanceHelp is --provenance's help: what it costs is said there.
const provenanceHelp = "Attach an SLSA v1 provenance attestation (true, false, mode=min or mode=max: max lists every COPY/ADD source file's digest). " +
	"The image is then written as an index of it and its attestation: the printed digest, and the one a tag points to, are the index's (the image manifest's is unchanged). " +
	"docker-archive:, type=local and type=tar outputs get none"

// provenanceMode reads --provenance and --attest type=provenance as
// buildx spells them: --provenance (true), --provenance=true|false|1|0,
// --provenance=mode=min|max[,disabled=true], and --attest
// type=provenance[,mode=…]. The last one given wins.
func (o *buildOptions) provenanceMode() (build.ProvenanceMode, error) {
	mode := build.ProvenanceOff
	if o.provenance != "" {
		m, err := parseProvenance("--provenance", o.provenance)
		if err != nil {
			return "", err
		}
		mode = m
	}
	for _, a := range o.attest {
		typ, rest, _ := strings.Cut(a, ",")
		if typ != "type=provenance" {
			return "", usagef("--attest %s: only type=provenance is supported (mybuild makes no SBOM)", a)
		}
		m, err := parseProvenance("--attest", rest)
		if err != nil {
			return "", err
		}
		mode = m
	}
	return mode, nil
}

// parseProvenance reads a boolean, or K=V fields (mode, disabled).
func parseProvenance(flag, v string) (build.ProvenanceMode, error) {
	switch v {
	case "", "true", "1":
		return build.ProvenanceMin, nil
	case "false", "0":
		return build.ProvenanceOff, nil
	}
	mode := build.ProvenanceMin
	for _, f := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(f, "=")
		switch {
		case k == "mode" && (val == "min" || val == "max"):
			mode = build.ProvenanceMode(val)
		case k == "disabled" && (val == "true" || val == "false"):
			if val == "true" {
				return build.ProvenanceOff, nil
			}
		default:
			return "", usagef("%s %s: want true, false, mode=min or mode=max", flag, v)
		}
	}
	return mode, nil
}
