package main

import (
	"strconv"
)

// outputCompression is the compression an --output asks for with
// BuildKit's compression= and compression-level=, and the --output that
// asked. mybuild compresses a build's new layers one way, for every
// output, so all that ask must agree, and agree with --compression.
type outputCompression struct {
	algorithm string // gzip, zstd or none
	level     int
	from      string
}

// imageAttrs reads the image exporter keys of the --output v, whose keys
// are attrs: compression and compression-level become the build's
// (d.compression); force-compression=false and oci-mediatypes=true are
// what mybuild does anyway, their opposites are refused.
func (d *destinations) imageAttrs(v string, attrs map[string]string) error {
	if f, ok := attrs["force-compression"]; ok && f != "false" {
		return usagef("--output %s: force-compression=%s is not supported: mybuild compresses the layers it makes, and keeps a base image's layers as they are", v, f)
	}
	if m, ok := attrs["oci-mediatypes"]; ok && m != "true" {
		return usagef("--output %s: oci-mediatypes=%s is not supported: mybuild writes OCI media types only", v, m)
	}
	algo, hasAlgo := attrs["compression"]
	lvl, hasLevel := attrs["compression-level"]
	if !hasAlgo && !hasLevel {
		return nil
	}
	c := outputCompression{algorithm: "gzip", from: v}
	switch algo {
	case "", "gzip":
	case "zstd":
		c.algorithm = algo
	case "uncompressed", "none":
		c.algorithm = "none"
	default:
		return usagef("--output %s: compression=%s: want gzip, zstd or uncompressed", v, algo)
	}
	if hasLevel {
		n, err := strconv.Atoi(lvl)
		if err != nil {
			return usagef("--output %s: compression-level=%s: %w", v, lvl, err)
		}
		c.level = n
	}
	if d.compression != nil && (d.compression.algorithm != c.algorithm || d.compression.level != c.level) {
		return usagef("--output %s: mybuild compresses a build's layers one way for every output, and --output %s asks for another", v, d.compression.from)
	}
	d.compression = &c
	return nil
}

// layerCompression is the build's layer compression: --compression and
// --compression-level, or what the outputs ask for, which must agree
// with those flags when they were given.
func (o *buildOptions) layerCompression(d *destinations) (string, int, error) {
	c := d.compression
	if c == nil {
		return o.compression, o.compressionLevel, nil
	}
	if o.compressionSet && (c.algorithm != o.compression || c.level != o.compressionLevel) {
		return "", 0, usagef("--output %s: mybuild compresses a build's layers one way for every output, and --compression %s asks for another", c.from, o.compression)
	}
	return c.algorithm, c.level, nil
}
