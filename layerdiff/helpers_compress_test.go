package layerdiff

import "github.com/mybuild/mybuild/layer"

// withCompression is WithCompression of algorithm a at level.
func withCompression(a layer.Algorithm, level int) Option {
	return WithCompression(layer.Compression{Algorithm: a, Level: level})
}
