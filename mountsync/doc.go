// Package mountsync shares the contents of RUN --mount=type=cache
// directories between machines through the shared cache of --cache-repo:
// each directory as content-addressed chunks (the tar of each entry at
// its top, cut where its files say) under a tag of its own, with a
// generation that says which copy is the newest.
package mountsync
