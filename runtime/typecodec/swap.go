package typecodec

import "slices"

// Swappable reports whether SwapBytes can convert a value of t between
// the two byte orders: t holds no opaque bytes of unknown structure wider
// than one byte.
func (t *Type) Swappable() bool {
	switch t.kind {
	case Opaque:
		return t.size <= 1
	case Array, Sequence:
		return t.elem.Swappable()
	case Struct:
		for i := range t.fields {
			if f := &t.fields[i]; f.Type != nil && !f.Type.Swappable() {
				return false
			}
		}
	}
	return true
}

// SwapBytes converts a value of t in b (at least t.Size() bytes) between
// little- and big-endian, in place: it reverses the bytes of every integer,
// enum and float (each half of a complex) and of the stored length of
// every string and sequence, and leaves booleans, chars, octets and
// padding as they are. Every element of a sequence's capacity is
// converted, whatever its stored length, so that b need not be trusted. A
// type that is not Swappable is left as it is. It allocates nothing.
func (t *Type) SwapBytes(b []byte) {
	b = b[:t.size]
	switch t.kind {
	case Int, Uint, Enum, Float:
		slices.Reverse(b)
	case Complex:
		h := t.size / 2
		slices.Reverse(b[:h])
		slices.Reverse(b[h:])
	case String:
		slices.Reverse(b[t.lenOff : t.lenOff+8])
	case Sequence:
		slices.Reverse(b[t.lenOff : t.lenOff+8])
		t.swapElems(b, t.n, t.elem.size)
	case Array:
		t.swapElems(b, t.n, t.stride)
	case Struct:
		for i := range t.fields {
			if f := &t.fields[i]; f.Type != nil {
				f.Type.SwapBytes(b[f.Offset : f.Offset+f.Size])
			}
		}
	}
}

func (t *Type) swapElems(b []byte, n, stride int) {
	e := t.elem
	if !e.swaps() {
		return
	}
	for i := range n {
		e.SwapBytes(b[i*stride : i*stride+e.size])
	}
}

// swaps reports whether SwapBytes changes anything in a value of t.
func (t *Type) swaps() bool {
	switch t.kind {
	case Int, Uint, Enum, Float:
		return t.size > 1
	case Bool, Char, Octet, Opaque:
		return false
	}
	return true
}
