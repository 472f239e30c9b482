package build

import "io/fs"

// symbolicMode is a symbolic --chmod, read as chmod(1) and BSD's setmode(3)
// read one with a umask of 0, as BuildKit does (through a Go port of
// setmode): comma-separated clauses, each a list of who (u, g, o, a; none
// is all) and one or more actions, an operator (+, -, =) with
// permissions (r, w, x, X, s, t) or a class to copy from (u, g, o). Its
// steps apply in order.
type symbolicMode []modeStep

// modeStep is one change to a mode.
type modeStep struct {
	op   byte   // '+' sets bits, '-' clears them, 'X' sets them if the mode had an x bit or is a directory's, 'c' copies a class
	bits uint16 // the bits it may change
	// For a copy: the class copied (u, g or o), the classes it goes to,
	// and whether it clears them first and sets them.
	from       byte
	to         []byte
	clear, set bool
}

// parser state for one symbolic mode.
type symbolicParser struct {
	s         string
	steps     symbolicMode
	equalDone bool // an "=" made its step already
}

func parseSymbolic(s string) (symbolicMode, error) {
	p := &symbolicParser{s: s}
	for {
		who := p.who()
		if p.s == "" {
			return nil, errSymbolic
		}
		for {
			if err := p.action(&who); err != nil {
				return nil, err
			}
			if p.s == "" {
				return p.steps, nil
			}
			if p.s[0] == ',' {
				p.s = p.s[1:]
				break
			}
		}
	}
}

// who reads the who letters of a clause.
func (p *symbolicParser) who() uint16 {
	var who uint16
	for ; p.s != ""; p.s = p.s[1:] {
		switch p.s[0] {
		case 'a':
			who |= modeStandard
		case 'u':
			who |= modeSetuid | modeUser
		case 'g':
			who |= modeSetgid | modeGroup
		case 'o':
			who |= modeOther
		default:
			return who
		}
	}
	return who
}

// action reads an operator and what follows it, up to the next operator,
// comma or end. A "t" adds sticky to who, for the rest of the clause.
func (p *symbolicParser) action(who *uint16) error {
	op := p.s[0]
	p.s = p.s[1:]
	switch op {
	case '+', '-':
	case '=':
		p.equalDone = false
	default:
		return errSymbolic
	}
	*who &^= modeSticky
	var perm, permX uint16
	for ; ; p.s = p.s[1:] {
		var c byte
		if p.s != "" {
			c = p.s[0]
		}
		switch c {
		case 'r':
			perm |= 0o444
		case 'w':
			perm |= 0o222
		case 'x':
			perm |= 0o111
		case 'X':
			if op == '-' {
				perm |= 0o111
			} else {
				permX = 0o111
			}
		case 's':
			if *who == 0 || *who&^modeOther != 0 { // not for o alone
				perm |= modeSetuid | modeSetgid
			}
		case 't':
			if *who == 0 || *who&^modeOther != 0 {
				*who |= modeSticky
				perm |= modeSticky
			}
		case 'u', 'g', 'o':
			// Flush what came before, then copy the class.
			if perm != 0 {
				p.add(op, *who, perm)
				perm = 0
			}
			if op == '=' {
				p.equalDone = true
			}
			if permX != 0 {
				p.add('X', *who, permX)
				permX = 0
			}
			p.addCopy(c, *who, op)
		default:
			if perm != 0 || op == '=' && !p.equalDone {
				if op == '=' {
					p.equalDone = true
				}
				p.add(op, *who, perm)
			}
			if permX != 0 {
				p.add('X', *who, permX)
			}
			return nil
		}
	}
}

// add adds the steps of op on perm for who: "=" clears who (everything
// but sticky when none) and then sets.
func (p *symbolicParser) add(op byte, who, perm uint16) {
	if op == '=' {
		clear := who
		if who == 0 {
			clear = modeStandard
		}
		p.steps = append(p.steps, modeStep{op: '-', bits: clear})
		op = '+'
	}
	bits := perm
	if who != 0 {
		bits = who & perm
	}
	p.steps = append(p.steps, modeStep{op: op, bits: bits})
}

// addCopy adds a copy of the class from to the classes of who (all when
// none).
func (p *symbolicParser) addCopy(from byte, who uint16, op byte) {
	s := modeStep{op: 'c', bits: 0o7777, from: from, clear: op != '+', set: op != '-'}
	for _, c := range []struct {
		class byte
		bit   uint16
	}{{'u', 0o400}, {'g', 0o040}, {'o', 0o004}} {
		if who == 0 || who&c.bit != 0 {
			s.to = append(s.to, c.class)
		}
	}
	p.steps = append(p.steps, s)
}

// classShift is where a class's rwx bits are.
func classShift(c byte) uint {
	switch c {
	case 'u':
		return 6
	case 'g':
		return 3
	}
	return 0
}

// apply is m changed by the steps; its other bits (the type) stay.
func (s symbolicMode) apply(m fs.FileMode) fs.FileMode {
	orig := toUnixMode(m)
	n := orig
	for _, st := range s {
		switch st.op {
		case '+':
			n |= st.bits
		case '-':
			n &^= st.bits
		case 'X':
			if orig&0o111 != 0 || m.IsDir() {
				n |= st.bits
			}
		case 'c':
			value := n >> classShift(st.from) & 0o7
			clear := value
			if st.set {
				clear = 0o7 // "=": the whole class
			}
			for _, to := range st.to {
				if st.clear {
					n &^= clear << classShift(to) & st.bits
				}
				if st.set {
					n |= value << classShift(to) & st.bits
				}
			}
		}
	}
	return m&^specialBits | fromUnixMode(n)
}
