package layer

// The OCI whiteout names (image-spec layer.md): an entry ".wh.NAME"
// deletes NAME from the layers below, and an entry ".wh..wh..opq" in a
// directory hides everything the layers below have in it.
const (
	WhiteoutPrefix = ".wh."
	OpaqueWhiteout = ".wh..wh..opq"
)
