package provenance

import "time"

// The in-toto and SLSA names a statement carries.
const (
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType is SLSA provenance v1.
	PredicateType = "https://slsa.dev/provenance/v1"
	// BuildType is mybuild's build type: what ExternalParameters mean.
	BuildType = "https://github.com/mybuild/mybuild/provenance/v1"
	// BuilderID names mybuild as the builder.
	BuilderID = "https://github.com/mybuild/mybuild"
)

// Statement is an in-toto Statement v1 whose predicate is SLSA
// provenance v1. Its fields are written in this order, so the same
// statement always gives the same bytes.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject is an artifact the statement is about: the image manifest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is SLSA provenance v1.
type Predicate struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is what was built, and from what.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// ExternalParameters are what the user asked for: the Dockerfile, the
// target, the platforms and the build args that an ARG consumed. Secrets
// are never here, nor anything derived from them.
type ExternalParameters struct {
	Dockerfile ResourceDescriptor `json:"dockerfile"`
	Target     string             `json:"target,omitempty"`
	Platforms  []string           `json:"platforms"`
	Args       map[string]string  `json:"args,omitempty"`
}

// ResourceDescriptor is an artifact by name or URI, and digests.
type ResourceDescriptor struct {
	Name   string            `json:"name,omitempty"`
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// RunDetails is who built it, and when.
type RunDetails struct {
	Builder  Builder   `json:"builder"`
	Metadata *Metadata `json:"metadata,omitempty"`
}

// Builder is mybuild, with its version.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// Metadata is the build's invocation and times. A reproducible build has
// no invocation id, and the source date epoch as both times.
type Metadata struct {
	InvocationID string     `json:"invocationId,omitempty"`
	StartedOn    *time.Time `json:"startedOn,omitempty"`
	FinishedOn   *time.Time `json:"finishedOn,omitempty"`
}
