package typecodec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The primitives of the IDL, by their canonical names.
var iox2Prims = map[string]*Type{}

func init() {
	for _, p := range []struct {
		name string
		kind Kind
		size int
	}{
		{"boolean", Bool, 1}, {"octet", Octet, 1}, {"char", Char, 1},
		{"int8", Int, 1}, {"uint8", Uint, 1}, {"int16", Int, 2}, {"uint16", Uint, 2},
		{"int32", Int, 4}, {"uint32", Uint, 4}, {"int64", Int, 8}, {"uint64", Uint, 8},
		{"float", Float, 4}, {"double", Float, 8},
	} {
		iox2Prims[p.name] = &Type{kind: p.kind, text: p.name, size: p.size, align: p.size}
	}
}

// maxTypeDepth bounds the nesting of sequences and arrays in one type
// spelling.
const maxTypeDepth = 32

// iox2Parser reads an "iox2-layout/1" description.
type iox2Parser struct {
	defs map[string]*Type // enums and structs defined so far
}

// parseIOX2 parses the canonical layout description; the last struct is
// the payload.
func parseIOX2(layout string) (*Type, error) {
	p := &iox2Parser{defs: map[string]*Type{}}
	lines := strings.Split(layout, "\n")
	if lines[len(lines)-1] != "" {
		return nil, fmt.Errorf("line %d: the description does not end with a newline", len(lines))
	}
	lines = lines[1 : len(lines)-1] // the header was checked by the caller
	var cur *Type                   // the struct being defined
	var next int                    // the next offset it must describe
	var last *Type
	var names map[string]bool
	for i, line := range lines {
		ln := i + 2
		w := strings.Split(line, " ")
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %q: %s", ln, line, fmt.Sprintf(format, args...))
		}
		switch w[0] {
		case "enum":
			if cur != nil {
				return nil, fail("enum inside struct %s", cur.name)
			}
			t, err := p.enum(w)
			if err != nil {
				return nil, fail("%v", err)
			}
			p.defs[t.name] = t
		case "struct":
			if cur != nil {
				return nil, fail("struct inside struct %s", cur.name)
			}
			if len(w) != 4 || !validName(w[1]) {
				return nil, fail("want: struct NAME size=N align=N")
			}
			if p.defs[w[1]] != nil || iox2Prims[w[1]] != nil {
				return nil, fail("%s is defined twice", w[1])
			}
			size, err1 := attr(w[2], "size", 1)
			align, err2 := attr(w[3], "align", 1)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fail("%v", err)
			}
			if align&(align-1) != 0 || size%align != 0 {
				return nil, fail("size %d is not a multiple of alignment %d, a power of two", size, align)
			}
			cur = &Type{kind: Struct, name: w[1], text: w[1], size: size, align: align}
			next, names = 0, map[string]bool{}
		case "field":
			if cur == nil {
				return nil, fail("field outside a struct")
			}
			if len(w) != 5 || !validName(w[1]) || !strings.HasPrefix(w[4], "type=") {
				return nil, fail("want: field NAME offset=N size=N type=TYPE")
			}
			off, err1 := attr(w[2], "offset", 0)
			size, err2 := attr(w[3], "size", 1)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fail("%v", err)
			}
			if off != next {
				return nil, fail("offset %d, the previous member ends at %d", off, next)
			}
			if size > cur.size-off {
				return nil, fail("reaches past the end of %s (size %d)", cur.name, cur.size)
			}
			if names[w[1]] {
				return nil, fail("field %s is defined twice", w[1])
			}
			t, err := p.typ(w[4][len("type="):])
			if err != nil {
				return nil, fail("%v", err)
			}
			if t.size != size {
				return nil, fail("type %s has size %d, not %d", t.text, t.size, size)
			}
			names[w[1]] = true
			cur.fields = append(cur.fields, Field{Name: w[1], Offset: off, Size: size, Type: t})
			next = off + size
		case "pad":
			if cur == nil {
				return nil, fail("pad outside a struct")
			}
			if len(w) != 3 {
				return nil, fail("want: pad offset=N size=N")
			}
			off, err1 := attr(w[1], "offset", 0)
			size, err2 := attr(w[2], "size", 1)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fail("%v", err)
			}
			if off != next {
				return nil, fail("offset %d, the previous member ends at %d", off, next)
			}
			if size > cur.size-off {
				return nil, fail("reaches past the end of %s (size %d)", cur.name, cur.size)
			}
			cur.fields = append(cur.fields, Field{Offset: off, Size: size})
			next = off + size
		case "end":
			if cur == nil || len(w) != 1 {
				return nil, fail("end outside a struct")
			}
			if next != cur.size {
				return nil, fail("the members of %s cover %d of its %d bytes", cur.name, next, cur.size)
			}
			p.defs[cur.name] = cur
			last, cur = cur, nil
		default:
			return nil, fail("unknown line")
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("struct %s has no end", cur.name)
	}
	if last == nil {
		return nil, errors.New("no struct")
	}
	return last, nil
}

func (p *iox2Parser) enum(w []string) (*Type, error) {
	if len(w) < 3 || !validName(w[1]) || !strings.HasPrefix(w[2], "type=") {
		return nil, errors.New("want: enum NAME type=UINT NAME=VALUE...")
	}
	if p.defs[w[1]] != nil || iox2Prims[w[1]] != nil {
		return nil, fmt.Errorf("%s is defined twice", w[1])
	}
	u := iox2Prims[w[2][len("type="):]]
	if u == nil || u.kind != Uint {
		return nil, fmt.Errorf("enum type %s is not uint8, uint16, uint32 or uint64", w[2][len("type="):])
	}
	t := &Type{kind: Enum, name: w[1], text: w[1], size: u.size, align: u.size}
	for _, e := range w[3:] {
		name, val, ok := strings.Cut(e, "=")
		if !ok || !validName(name) {
			return nil, fmt.Errorf("enumerator %q is not NAME=VALUE", e)
		}
		v, err := strconv.ParseUint(val, 10, u.size*8)
		if err != nil {
			return nil, fmt.Errorf("enumerator %s: value %q is not a %s", name, val, u.text)
		}
		for _, x := range t.enums {
			if x.Name == name {
				return nil, fmt.Errorf("enumerator %s is defined twice", name)
			}
		}
		t.enums = append(t.enums, Enumerator{Name: name, Value: v})
	}
	return t, nil
}

// typ parses a canonical type spelling: BASE DIM*.
func (p *iox2Parser) typ(s string) (*Type, error) {
	t, rest, err := p.typeAt(s, 0)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("type %q: unexpected %q", s, rest)
	}
	return t, nil
}

func (p *iox2Parser) typeAt(s string, depth int) (*Type, string, error) {
	if depth > maxTypeDepth {
		return nil, "", fmt.Errorf("type %q nests more than %d deep", s, maxTypeDepth)
	}
	var t *Type
	rest := s
	switch {
	case strings.HasPrefix(rest, "string<"):
		n, r, err := number(rest[len("string<"):], ">")
		if err != nil {
			return nil, "", fmt.Errorf("type %q: %v", s, err)
		}
		rest = r
		if n < 1 || n > maxSize-16 {
			return nil, "", fmt.Errorf("type %q: capacity %d out of range", s, n)
		}
		lenOff := align8(n + 1)
		t = &Type{kind: String, text: "string<" + strconv.Itoa(n) + ">", size: lenOff + 8, align: 8, n: n, lenOff: lenOff}
	case strings.HasPrefix(rest, "sequence<"):
		elem, r, err := p.typeAt(rest[len("sequence<"):], depth+1)
		if err != nil {
			return nil, "", err
		}
		if !strings.HasPrefix(r, ",") {
			return nil, "", fmt.Errorf("type %q: want \",\" after the element type", s)
		}
		n, r, err := number(r[1:], ">")
		if err != nil {
			return nil, "", fmt.Errorf("type %q: %v", s, err)
		}
		rest = r
		if n < 1 || n > (maxSize-16)/elem.size {
			return nil, "", fmt.Errorf("type %q: capacity %d out of range", s, n)
		}
		lenOff := align8(n * elem.size)
		a := max(8, elem.align)
		if lenOff+8 > maxSize-a {
			return nil, "", fmt.Errorf("type %q is larger than %d bytes", s, maxSize)
		}
		t = &Type{kind: Sequence, text: "sequence<" + elem.text + "," + strconv.Itoa(n) + ">",
			size: (lenOff + 8 + a - 1) &^ (a - 1), align: a, elem: elem, n: n, lenOff: lenOff}
	default:
		i := 0
		for i < len(rest) && (isNameByte(rest[i]) || rest[i] == ':') {
			i++
		}
		name := rest[:i]
		rest = rest[i:]
		if t = iox2Prims[name]; t == nil {
			if t = p.defs[name]; t == nil {
				return nil, "", fmt.Errorf("type %q: %q is not a primitive or an enum or struct defined before", s, name)
			}
		}
	}
	var dims []int
	for strings.HasPrefix(rest, "[") {
		n, r, err := number(rest[1:], "]")
		if err != nil {
			return nil, "", fmt.Errorf("type %q: %v", s, err)
		}
		if n < 1 {
			return nil, "", fmt.Errorf("type %q: array length 0", s)
		}
		if len(dims) == maxTypeDepth {
			return nil, "", fmt.Errorf("type %q has more than %d dimensions", s, maxTypeDepth)
		}
		dims = append(dims, n)
		rest = r
	}
	for i := len(dims) - 1; i >= 0; i-- {
		if dims[i] > maxSize/t.size {
			return nil, "", fmt.Errorf("type %q is larger than %d bytes", s, maxSize)
		}
		t = arrayOf(t, dims[i], t.size)
	}
	return t, rest, nil
}

// number reads a decimal number followed by end.
func number(s, end string) (int, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || !strings.HasPrefix(s[i:], end) {
		return 0, "", fmt.Errorf("want a number and %q at %q", end, s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil || n > maxSize {
		return 0, "", fmt.Errorf("number %s is larger than %d", s[:i], maxSize)
	}
	return int(n), s[i+len(end):], nil
}

// attr reads key=N, with N at least min and at most maxSize.
func attr(s, key string, min int) (int, error) {
	v, ok := strings.CutPrefix(s, key+"=")
	if !ok {
		return 0, fmt.Errorf("want %s=N, found %q", key, s)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > maxSize || int(n) < min {
		return 0, fmt.Errorf("%s %q is not a number in [%d, %d]", key, v, min, maxSize)
	}
	return int(n), nil
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validName accepts identifiers and scoped names (a::b).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, "::") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !isNameByte(part[i]) {
				return false
			}
		}
	}
	return true
}
