package typecodec

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The layout that the runtime derives by reflection for a Go type has one
// line per leaf and per array: "OFFSET SIZE PATH KIND", where PATH is the
// dotted field path ("." for the type itself, "[]" for an array's first
// element) and KIND a Go kind ("int32") or an array length ("[4]"). Struct
// fields have no line of their own: they are rebuilt from the paths. A
// field named _ is padding. Fields of size 0 carry nothing and are left
// out.

var reflectKinds = map[string]*Type{}

func init() {
	for _, p := range []struct {
		name        string
		kind        Kind
		size, align int
	}{
		{"bool", Bool, 1, 1},
		{"int8", Int, 1, 1}, {"uint8", Uint, 1, 1}, {"int16", Int, 2, 2}, {"uint16", Uint, 2, 2},
		{"int32", Int, 4, 4}, {"uint32", Uint, 4, 4}, {"int64", Int, 8, 8}, {"uint64", Uint, 8, 8},
		{"float32", Float, 4, 4}, {"float64", Float, 8, 8},
		{"complex64", Complex, 8, 4}, {"complex128", Complex, 16, 8},
	} {
		reflectKinds[p.name] = &Type{kind: p.kind, text: p.name, size: p.size, align: p.align}
	}
}

// maxPathDepth bounds the nesting of one path.
const maxPathDepth = 64

type rline struct {
	off, size int
	path      []string // field names and "[]"
	kind      string
}

// parseReflectLine splits one line; ok is false if it is not in the format.
func parseReflectLine(line string) (rline, bool) {
	w := strings.Split(line, " ")
	if len(w) != 4 {
		return rline{}, false
	}
	off, err1 := strconv.ParseUint(w[0], 10, 64)
	size, err2 := strconv.ParseUint(w[1], 10, 64)
	// Go field names are valid UTF-8; a path that is not could not be
	// named in JSON (it would come back as U+FFFD).
	if err1 != nil || err2 != nil || off > maxSize || size > maxSize || w[2] == "" || w[3] == "" || !utf8.ValidString(w[2]) {
		return rline{}, false
	}
	l := rline{off: int(off), size: int(size), kind: w[3]}
	if w[2] == "." {
		return l, true
	}
	for i, part := range strings.Split(w[2], ".") {
		name := strings.TrimRight(part, "[]")
		dims := part[len(name):]
		if strings.ContainsAny(name, "[]") || len(dims)%2 != 0 || strings.Count(dims, "[]")*2 != len(dims) || (name == "" && i > 0) {
			return rline{}, false
		}
		if name != "" {
			l.path = append(l.path, name)
		}
		for range len(dims) / 2 {
			l.path = append(l.path, "[]")
		}
	}
	if len(l.path) == 0 {
		return rline{}, false
	}
	return l, true
}

func isReflectLayout(layout string) bool {
	first, _, _ := strings.Cut(layout, "\n")
	_, ok := parseReflectLine(first)
	return ok && strings.HasSuffix(layout, "\n")
}

// rnode is a node of the tree rebuilt from the paths.
type rnode struct {
	name     string
	line     int  // where it is defined; 0 for a struct
	defined  bool // a leaf or an array (structs have no line)
	array    bool
	kind     string
	off      int
	size     int
	n        int
	elem     *rnode
	children []*rnode
}

func parseReflect(layout string, size int) (*Type, error) {
	lines := strings.Split(layout, "\n")
	lines = lines[:len(lines)-1] // it ends with a newline
	root := &rnode{}
	for i, line := range lines {
		ln := i + 1
		l, ok := parseReflectLine(line)
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %q: %s", ln, line, fmt.Sprintf(format, args...))
		}
		if !ok {
			return nil, fail("want: OFFSET SIZE PATH KIND")
		}
		if len(l.path) > maxPathDepth {
			return nil, fail("the path nests more than %d deep", maxPathDepth)
		}
		node := root
		for j, tok := range l.path {
			last := j == len(l.path)-1
			if tok == "[]" {
				if !node.array {
					return nil, fail("[] of something that is not an array")
				}
				if node.elem == nil {
					node.elem = &rnode{}
				}
				node = node.elem
				continue
			}
			if node.defined {
				return nil, fail("field %s of something that is not a struct", tok)
			}
			var c *rnode
			if !last {
				for k := len(node.children) - 1; k >= 0; k-- {
					if node.children[k].name == tok {
						c = node.children[k]
						break
					}
				}
			}
			if c == nil {
				c = &rnode{name: tok}
				node.children = append(node.children, c)
			}
			node = c
		}
		if node.defined || len(node.children) > 0 {
			return nil, fail("defined twice")
		}
		node.defined, node.line, node.off, node.size, node.kind = true, ln, l.off, l.size, l.kind
		if strings.HasPrefix(l.kind, "[") {
			n, rest, err := number(l.kind[1:], "]")
			if err != nil || rest != "" {
				return nil, fail("kind %q is neither a Go kind nor [N]", l.kind)
			}
			node.array, node.n = true, n
		} else if reflectKinds[l.kind] == nil {
			return nil, fail("kind %q is neither a Go kind nor [N]", l.kind)
		}
	}
	start := 0
	t, err := convertReflect(root, &start, size)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("the layout describes no field")
	}
	return t, nil
}

// convertReflect builds the Type of node n. *start is the absolute offset
// where n begins: for a struct, if it is -1 it becomes that of its first
// field; size is a struct's size, or -1 to take the end of its last
// field. It returns nil for a node of size 0.
func convertReflect(n *rnode, start *int, size int) (*Type, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("line %d: %s", n.line, fmt.Sprintf(format, args...))
	}
	if n.defined && !n.array {
		t := reflectKinds[n.kind]
		if n.size != t.size {
			return nil, fail("kind %s has size %d, not %d", n.kind, t.size, n.size)
		}
		if *start >= 0 && n.off != *start {
			return nil, fail("an array element at offset %d, the array starts at %d", n.off, *start)
		}
		*start = n.off
		return t, nil
	}
	if n.array {
		if *start >= 0 && n.off != *start {
			return nil, fail("an array element at offset %d, the array starts at %d", n.off, *start)
		}
		*start = n.off
		if n.n == 0 || n.size == 0 {
			return nil, nil
		}
		if n.size%n.n != 0 {
			return nil, fail("%d elements do not divide %d bytes", n.n, n.size)
		}
		stride := n.size / n.n
		if n.elem == nil {
			return nil, fail("an array without an element")
		}
		es := n.off
		et, err := convertReflect(n.elem, &es, stride)
		if err != nil {
			return nil, err
		}
		if et == nil {
			return nil, nil
		}
		if et.size > stride {
			return nil, fail("elements of %d bytes, %d apart", et.size, stride)
		}
		return arrayOf(et, n.n, stride), nil
	}
	// A struct: its fields, relative to its start.
	type kid struct {
		c     *rnode
		t     *Type
		start int
	}
	var kids []kid
	for _, c := range n.children {
		s := -1
		t, err := convertReflect(c, &s, -1)
		if err != nil {
			return nil, err
		}
		if t != nil {
			kids = append(kids, kid{c, t, s})
		}
	}
	if len(kids) == 0 {
		return nil, nil
	}
	if *start < 0 {
		*start = kids[0].start
	}
	t := &Type{kind: Struct, text: "struct", align: 1}
	end := 0
	names := map[string]bool{}
	for _, k := range kids {
		off := k.start - *start
		if off < end {
			return nil, fmt.Errorf("line %d: field %s at relative offset %d overlaps the field before it", k.c.line, k.c.name, off)
		}
		if off > end {
			t.fields = append(t.fields, Field{Offset: end, Size: off - end})
		}
		if k.c.name == "_" {
			t.fields = append(t.fields, Field{Offset: off, Size: k.t.size})
		} else {
			if names[k.c.name] {
				return nil, fmt.Errorf("line %d: field %s is defined twice", k.c.line, k.c.name)
			}
			names[k.c.name] = true
			t.fields = append(t.fields, Field{Name: k.c.name, Offset: off, Size: k.t.size, Type: k.t})
			t.align = max(t.align, k.t.align)
		}
		end = off + k.t.size
	}
	if size < 0 {
		size = end
	}
	if end > size {
		return nil, fmt.Errorf("line %d: field %s ends at %d, past the struct's %d bytes", kids[len(kids)-1].c.line, kids[len(kids)-1].c.name, end, size)
	}
	if end < size {
		t.fields = append(t.fields, Field{Offset: end, Size: size - end})
	}
	t.size = size
	return t, nil
}
