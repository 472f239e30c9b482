// Package provenance holds the SLSA v1 provenance of a build as an
// in-toto statement, and renders it as the attestation manifest BuildKit
// puts beside an image in its index.
package provenance
