package isolation

// Facts are what the choice of a mode rests on, as mybuild info prints
// them.
type Facts struct {
	// UID, GID and User are the builder's user and group.
	UID, GID int
	User     string
	// Kernel is the kernel's release.
	Kernel string
	// Namespaces is nil when a child can be made in new mount, PID, UTS
	// and IPC namespaces and mount a tmpfs there; else what was refused.
	Namespaces error
	// UserNamespace is nil when a child can be made in a new user
	// namespace and mount an overlayfs there (unprivileged overlayfs,
	// Linux 5.11); else what was refused.
	UserNamespace error
	// SubUIDs and SubGIDs are the user's ranges in /etc/subuid and
	// /etc/subgid; NewUIDMap and NewGIDMap the paths of the setuid
	// helpers that map them ("" when missing).
	SubUIDs, SubGIDs     []IDRange
	NewUIDMap, NewGIDMap string
	// Markers are the signs of a container seen: /.dockerenv,
	// /run/.containerenv, container= in PID 1's environment, container
	// runtimes in /proc/self/cgroup. They are never proof enough to
	// build in place.
	Markers []string
	// InPlaceMarker is where the in-place marker is looked for: an empty
	// file named "in-place" beside the mybuild binary, in mybuild's own
	// image. HasInPlaceMarker says whether it is there.
	InPlaceMarker    string
	HasInPlaceMarker bool
}

// IDRange is a range of subordinate ids.
type IDRange struct {
	Start, Count int64
}
