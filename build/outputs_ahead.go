package build

import (
	"slices"

	"github.com/mybuild/mybuild/transport"
)

// startAheads begins to write the archive outputs (see
// transport.StartAhead) with the base layers of st, the target stage, as
// soon as one of its steps misses: the image will differ from the one
// in place, and begin with those layers, written as they are. The copy
// of a large base then runs beside the steps, rather than after them.
// A warm build, whose archive is in place, begins none.
func (b *builder) startAheads(st *stage) {
	if st.base == 0 {
		return
	}
	first := slices.Clone(st.img.Layers[:st.base])
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, out := range b.opts.Outputs {
		if _, begun := b.aheads[out.String()]; begun {
			continue
		}
		if a := transport.StartAhead(b.aheadCtx, out, first, b.opts.Store); a != nil {
			if b.aheads == nil {
				b.aheads = map[string]*transport.Ahead{}
			}
			b.aheads[out.String()] = a
		}
	}
}

// ahead is the archive begun for out, or nil.
func (b *builder) ahead(out transport.Ref) *transport.Ahead {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.aheads[out.String()]
}

// abortAheads drops the archives begun and not saved: a failed build
// leaves its outputs as they were.
func (b *builder) abortAheads() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.aheads {
		a.Abort()
	}
}
