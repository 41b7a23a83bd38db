package idl

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/iox2go/iox2go/idl/internal/ast"
)

// Limits of the IDL subset.
const (
	// MaxSize is the largest size of a type, in bytes: types must fit in
	// the address space of the 32-bit targets (386, arm).
	MaxSize = 1<<31 - 1
	// MaxQoS is the largest value of a QoS count.
	MaxQoS = 1 << 16
	// MaxServiceNameLength is iceoryx2's limit on service names, in bytes.
	MaxServiceNameLength = 255
	// MaxEventIDValue is the runtime's limit on @event_id_max_value (a
	// listener holds a counter per event id).
	MaxEventIDValue = 1<<16 - 1
	// DefaultEventIDMaxValue is iceoryx2's default @event_id_max_value.
	DefaultEventIDMaxValue = 255
	// MaxAttributes is iceoryx2's limit on the attributes of a service.
	MaxAttributes = 8
	// MaxAttributeKeyLength and MaxAttributeValueLength are iceoryx2's
	// limits on attribute keys and values, in bytes.
	MaxAttributeKeyLength   = 64
	MaxAttributeValueLength = 256
	// maxConstBits bounds intermediate values of constant expressions.
	maxConstBits = 512
)

type symKind int

const (
	symModule symKind = iota
	symStruct
	symEnum
	symTypedef
	symConst
	symEnumerator
)

func (k symKind) String() string {
	return [...]string{"module", "struct", "enum", "typedef", "constant", "enumerator"}[k]
}

type state int

const (
	unresolved state = iota
	resolving
	resolved
)

// A symbol is a declared name in a scope.
type symbol struct {
	kind  symKind
	name  string
	scope *scope
	pos   lexer.Position

	annots []*ast.Annotation // of the definition
	strct  *ast.Struct
	enum   *ast.Enum
	tdef   *ast.Typedef
	decl   *ast.Declarator // typedef declarator
	cnst   *ast.Const
	child  *scope // module
	enumer *ast.Enumerator
	owner  *symbol // enumerator: its enum

	state  state
	typ    *Type    // struct, enum, typedef: nil after an error
	val    *big.Int // const: nil after an error
	mconst *Const   // const: the model
}

func (s *symbol) scoped() string {
	return strings.Join(append(append([]string(nil), s.scope.path...), s.name), "::")
}

type scope struct {
	parent *scope
	path   []string
	syms   map[string]*symbol // by lower-case name: IDL names collide ignoring case
}

func (s *scope) String() string { return strings.Join(s.path, "::") }

type serviceDecl struct {
	svc    *ast.Service
	annots []*ast.Annotation
	scope  *scope
}

type checker struct {
	filename string
	errs     ErrorList
	file     *File
	root     *scope
	order    []*symbol // declarations in source order
	services []serviceDecl
	typedefs map[*ast.Typedef]*Type // resolved type spec of a typedef, shared by its declarators
	strings  map[uint64]*StringType
	seqs     map[string]*SequenceType
	stack    []*symbol // structs and typedefs being resolved, for cycle messages
	cstack   []*symbol // constants being evaluated
}

func newChecker(filename string) *checker {
	return &checker{
		filename: filename,
		file:     &File{Name: filename},
		root:     &scope{syms: map[string]*symbol{}},
		typedefs: map[*ast.Typedef]*Type{},
		strings:  map[uint64]*StringType{},
		seqs:     map[string]*SequenceType{},
	}
}

func (c *checker) errorf(pos lexer.Position, format string, args ...any) {
	if pos.Filename == "" {
		pos.Filename = c.filename
	}
	c.errs.Add(pos, fmt.Sprintf(format, args...))
}

func (c *checker) check(f *ast.File) {
	c.collect(f.Defs, c.root)
	for _, s := range c.order {
		switch s.kind {
		case symStruct, symEnum, symTypedef:
			c.resolveSym(s, s.pos)
		case symConst:
			c.constValue(s, s.pos)
		}
	}
	for _, s := range c.order {
		if s.mconst != nil {
			c.file.Consts = append(c.file.Consts, s.mconst) // in source order
		}
	}
	for _, sd := range c.services {
		c.checkService(sd)
	}
	c.checkGoNames()
	c.verifyGoLayouts()
	for _, d := range f.Defs {
		if m, ok := d.Decl.(*ast.Module); ok {
			c.file.Package = strings.ToLower(strings.TrimPrefix(m.Name.Name, "_"))
			break
		}
	}
}

// ident checks a declared identifier and returns its name without the
// escaping underscore.
func (c *checker) ident(id *ast.Ident) (string, bool) {
	name := id.Name
	if strings.HasPrefix(name, "_") {
		name = name[1:]
		if name == "" || name[0] == '_' {
			c.errorf(id.Pos, "invalid identifier %q: an identifier starts with a letter (one leading underscore escapes a keyword)", id.Name)
			return "", false
		}
		return name, true
	}
	if keywords[name] {
		c.errorf(id.Pos, "expected identifier, found keyword %q (escape it as _%s)", name, name)
		return "", false
	}
	return name, true
}

// declare adds a symbol to a scope, reporting a collision.
func (c *checker) declare(sc *scope, s *symbol) bool {
	key := strings.ToLower(s.name)
	if prev, ok := sc.syms[key]; ok {
		if prev.name == s.name {
			c.errorf(s.pos, "%s redeclared in this scope (previous declaration at %s)", s.name, posString(prev.pos))
		} else {
			c.errorf(s.pos, "%s collides with %s declared at %s: IDL names must differ in more than case", s.name, prev.name, posString(prev.pos))
		}
		return false
	}
	s.scope = sc
	sc.syms[key] = s
	return true
}

// collect declares every name of defs in sc (and nested modules).
func (c *checker) collect(defs []*ast.Definition, sc *scope) {
	for _, def := range defs {
		switch d := def.Decl.(type) {
		case *ast.Module:
			c.noAnnotations(def.Annotations, "a module")
			name, ok := c.ident(d.Name)
			if !ok {
				continue
			}
			child := c.openModule(sc, name, d.Name.Pos)
			if child != nil {
				c.collect(d.Defs, child)
			}
		case *ast.Struct:
			name, ok := c.ident(d.Name)
			if !ok {
				continue
			}
			s := &symbol{kind: symStruct, name: name, pos: d.Name.Pos, annots: def.Annotations, strct: d}
			if c.declare(sc, s) {
				c.order = append(c.order, s)
			}
		case *ast.Enum:
			name, ok := c.ident(d.Name)
			if !ok {
				continue
			}
			s := &symbol{kind: symEnum, name: name, pos: d.Name.Pos, annots: def.Annotations, enum: d}
			if c.declare(sc, s) {
				c.order = append(c.order, s)
			}
			// Enumerators belong to the enclosing scope, as in IDL (and C).
			for _, e := range d.Enumerators {
				if n, ok := c.ident(e.Name); ok {
					c.declare(sc, &symbol{kind: symEnumerator, name: n, pos: e.Name.Pos, enumer: e, owner: s})
				}
			}
		case *ast.Typedef:
			c.noAnnotations(def.Annotations, "a typedef")
			for _, decl := range d.Declarators {
				name, ok := c.ident(decl.Name)
				if !ok {
					continue
				}
				s := &symbol{kind: symTypedef, name: name, pos: decl.Name.Pos, tdef: d, decl: decl}
				if c.declare(sc, s) {
					c.order = append(c.order, s)
				}
			}
		case *ast.Const:
			c.noAnnotations(def.Annotations, "a constant")
			name, ok := c.ident(d.Name)
			if !ok {
				continue
			}
			s := &symbol{kind: symConst, name: name, pos: d.Name.Pos, cnst: d}
			if c.declare(sc, s) {
				c.order = append(c.order, s)
			}
		case *ast.Service:
			c.services = append(c.services, serviceDecl{svc: d, annots: def.Annotations, scope: sc})
		case *ast.Unsupported:
			c.noAnnotations(def.Annotations, "a "+d.Keyword)
			c.errorf(d.Pos, "%s", unsupportedMessage(d.Keyword))
		}
	}
}

func unsupportedMessage(kw string) string {
	switch kw {
	case "union":
		return "union is not supported: use a struct (unions may come later)"
	case "bitmask", "bitset":
		return kw + " is not supported yet: use an integer type and constants"
	case "interface", "abstract", "local", "valuetype", "custom", "eventtype", "component", "home", "porttype", "connector":
		return kw + " is not supported: declare iox2 services with service"
	case "exception":
		return "exception is not supported: there are no remote calls to raise them"
	case "native":
		return "native is not supported: it has no defined size"
	}
	return kw + " is not supported"
}

func (c *checker) openModule(sc *scope, name string, pos lexer.Position) *scope {
	if prev, ok := sc.syms[strings.ToLower(name)]; ok && prev.kind == symModule && prev.name == name {
		return prev.child // a reopened module
	}
	s := &symbol{kind: symModule, name: name, pos: pos}
	if !c.declare(sc, s) {
		return nil
	}
	s.child = &scope{parent: sc, path: append(append([]string(nil), sc.path...), name), syms: map[string]*symbol{}}
	return s.child
}

// lookup resolves a scoped name from sc: an absolute name (::a::B) from the
// root, a relative one from sc and then each enclosing scope.
func (c *checker) lookup(n *ast.ScopedName, sc *scope) *symbol {
	start := []*scope{c.root}
	if !n.Absolute {
		start = nil
		for s := sc; s != nil; s = s.parent {
			start = append(start, s)
		}
	}
	for _, s := range start {
		if sym := c.lookupIn(s, n.Parts); sym != nil {
			return sym
		}
	}
	return nil
}

func (c *checker) lookupIn(sc *scope, parts []string) *symbol {
	for i, p := range parts {
		sym := sc.syms[strings.ToLower(strings.TrimPrefix(p, "_"))]
		if sym == nil {
			return nil
		}
		if i == len(parts)-1 {
			return sym
		}
		if sym.kind != symModule {
			return nil
		}
		sc = sym.child
	}
	return nil
}

// use resolves a name reference and checks that it is spelled like its
// declaration.
func (c *checker) use(n *ast.ScopedName, sc *scope) *symbol {
	sym := c.lookup(n, sc)
	if sym == nil {
		c.errorf(n.Pos, "undefined: %s", nameString(n))
		return nil
	}
	last := strings.TrimPrefix(n.Parts[len(n.Parts)-1], "_")
	if last != sym.name {
		c.errorf(n.Pos, "%s must be spelled %s, as declared at %s", last, sym.name, posString(sym.pos))
		return nil
	}
	return sym
}

func nameString(n *ast.ScopedName) string {
	s := strings.Join(n.Parts, "::")
	if n.Absolute {
		s = "::" + s
	}
	return s
}

// ---- types ----

// resolveSym resolves a struct, enum or typedef symbol to its type. It
// returns nil after an error (reported once, where it is).
func (c *checker) resolveSym(s *symbol, usePos lexer.Position) *Type {
	switch s.state {
	case resolved:
		return s.typ
	case resolving:
		c.cycleError(s, usePos)
		return nil
	}
	s.state = resolving
	c.stack = append(c.stack, s)
	switch s.kind {
	case symStruct:
		s.typ = c.resolveStruct(s)
	case symEnum:
		s.typ = c.resolveEnum(s)
	case symTypedef:
		s.typ = c.resolveTypedef(s)
	}
	c.stack = c.stack[:len(c.stack)-1]
	s.state = resolved
	return s.typ
}

func (c *checker) cycleError(s *symbol, pos lexer.Position) {
	i := len(c.stack) - 1
	for i > 0 && c.stack[i] != s {
		i--
	}
	var names []string
	for _, x := range c.stack[i:] {
		names = append(names, x.name)
	}
	names = append(names, s.name)
	c.errorf(pos, "invalid recursive type %s: %s", s.name, strings.Join(names, " -> "))
}

// typeSpec resolves a type reference. It returns nil after an error.
func (c *checker) typeSpec(ts ast.TypeSpec, sc *scope) *Type {
	switch t := ts.(type) {
	case *ast.PrimitiveType:
		switch t.Name {
		case "any":
			c.errorf(t.Pos, "any is not supported: it has no fixed size")
			return nil
		case "wchar":
			c.errorf(t.Pos, "wchar is not supported: its size differs between languages; use char, uint16 or uint32")
			return nil
		case "long double":
			c.errorf(t.Pos, "long double is not supported: its size differs between platforms; use double")
			return nil
		}
		p := primByName[t.Name]
		return &Type{Kind: KindPrimitive, Prim: p, Size: p.Size(), Align: p.Size()}
	case *ast.StringType:
		if t.Kind == "wstring" {
			c.errorf(t.Pos, "wstring is not supported: use string<N> (UTF-8)")
			return nil
		}
		if t.Bound == nil {
			c.errorf(t.Pos, "unbounded string is not supported: it has no fixed size; give it a capacity, e.g. string<32>")
			return nil
		}
		n, ok := c.bound(t.Bound, sc, "string capacity")
		if !ok {
			return nil
		}
		return c.stringType(n, t.Pos)
	case *ast.SequenceType:
		elem := c.typeSpec(t.Elem, sc)
		if t.Bound == nil {
			c.errorf(t.Pos, "unbounded sequence is not supported: it has no fixed size; give it a capacity, e.g. sequence<T, 16> (only a publish_subscribe payload may be a sequence<T>: a slice)")
			return nil
		}
		n, ok := c.bound(t.Bound, sc, "sequence capacity")
		if !ok || elem == nil {
			return nil
		}
		return c.sequenceType(elem, n, t.Pos)
	case *ast.MapType:
		c.errorf(t.Pos, "map is not supported: it has no fixed size")
		return nil
	case *ast.NamedType:
		if len(t.Name.Parts) == 1 && !t.Name.Absolute {
			switch n := t.Name.Parts[0]; n {
			case "void", "Object", "ValueBase", "fixed":
				c.errorf(t.Pos, "%s is not supported: it has no fixed size", n)
				return nil
			case "unsigned":
				c.errorf(t.Pos, `expected "short" or "long" after "unsigned"`)
				return nil
			}
		}
		sym := c.use(t.Name, sc)
		if sym == nil {
			return nil
		}
		switch sym.kind {
		case symStruct, symEnum, symTypedef:
			// A typedef stays in the type, so that generated code uses
			// its name; its layout is that of its target.
			return c.resolveSym(sym, t.Pos)
		}
		c.errorf(t.Pos, "expected type, found %s %s", sym.kind, sym.scoped())
		return nil
	}
	return nil
}

var primByName = map[string]Prim{
	"boolean": Boolean, "octet": Octet, "char": Char,
	"int8": Int8, "uint8": Uint8, "int16": Int16, "uint16": Uint16,
	"int32": Int32, "uint32": Uint32, "int64": Int64, "uint64": Uint64,
	"short": Int16, "unsigned short": Uint16,
	"long": Int32, "unsigned long": Uint32,
	"long long": Int64, "unsigned long long": Uint64,
	"float": Float, "double": Double,
}

// bound evaluates a capacity or array size: an integer from 1 to MaxSize.
func (c *checker) bound(e *ast.Expr, sc *scope, what string) (uint64, bool) {
	v, ok := c.eval(e, sc)
	if !ok {
		return 0, false
	}
	if v.Sign() <= 0 {
		c.errorf(e.Pos, "expected positive %s, found %s", what, v)
		return 0, false
	}
	if v.Cmp(big.NewInt(MaxSize)) > 0 {
		c.errorf(e.Pos, "%s %s is too large (the maximum is %d)", what, v, MaxSize)
		return 0, false
	}
	return v.Uint64(), true
}

// withDims wraps t in the array dimensions of a declarator, the last
// dimension innermost (int16 raw[2][4] is 2 arrays of 4). It reports the
// errors of every dimension even when t is nil.
func (c *checker) withDims(t *Type, dims []*ast.ArrayDim, sc *scope) *Type {
	lens := make([]uint64, len(dims))
	ok := true
	for i, d := range dims {
		n, good := c.bound(d.Size, sc, "array size")
		lens[i], ok = n, ok && good
	}
	if !ok || t == nil {
		return nil
	}
	for i := len(dims) - 1; i >= 0; i-- {
		if t.Size > MaxSize/lens[i] {
			c.errorf(dims[i].Pos, "array is too large: more than %d bytes", MaxSize)
			return nil
		}
		t = &Type{Kind: KindArray, Elem: t, Len: lens[i], Size: t.Size * lens[i], Align: t.Align}
	}
	return t
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// layout places fields in order at their natural alignment, inserting
// explicit padding fields, and returns the fields, size and alignment.
// tailPos is the position given to the tail padding.
func layout(fields []*Field, minAlign uint64, tailPos lexer.Position) ([]*Field, uint64, uint64, bool) {
	var out []*Field
	off, align := uint64(0), minAlign
	for _, f := range fields {
		a := f.Type.Align
		if next := alignUp(off, a); next > off {
			out = append(out, &Field{Pad: true, Offset: off, Size: next - off, Pos: f.Pos})
			off = next
		}
		f.Offset, f.Size = off, f.Type.Size
		out = append(out, f)
		if off+f.Size > MaxSize {
			return nil, 0, 0, false
		}
		off += f.Size
		align = max(align, a)
	}
	if end := alignUp(off, align); end > off {
		out = append(out, &Field{Pad: true, Offset: off, Size: end - off, Pos: tailPos})
		off = end
	}
	if off > MaxSize {
		return nil, 0, 0, false
	}
	return out, off, align, true
}

var (
	u8Type  = &Type{Kind: KindPrimitive, Prim: Char, Size: 1, Align: 1}
	u64Type = &Type{Kind: KindPrimitive, Prim: Uint64, Size: 8, Align: 8}
)

// stringType returns the (shared) layout of string<n>.
func (c *checker) stringType(n uint64, pos lexer.Position) *Type {
	st := c.strings[n]
	if st == nil {
		fields := []*Field{
			{Name: "data", GoName: "data", Type: &Type{Kind: KindArray, Elem: u8Type, Len: n, Size: n, Align: 1}, Pos: pos},
			{Name: "terminator", GoName: "terminator", Type: u8Type, Pos: pos},
			{Name: "len", GoName: "len", Type: u64Type, Pos: pos},
		}
		fs, size, align, ok := layout(fields, 8, pos)
		if !ok {
			c.errorf(pos, "string<%d> is too large: more than %d bytes", n, MaxSize)
			return nil
		}
		st = &StringType{Cap: n, GoName: "String_" + strconv.FormatUint(n, 10), Fields: fs, Size: size, Align: align, Pos: pos}
		c.strings[n] = st
		c.file.Decls = append(c.file.Decls, st)
	}
	return &Type{Kind: KindString, Str: st, Size: st.Size, Align: st.Align}
}

// sequenceType returns the (shared) layout of sequence<elem, n>.
func (c *checker) sequenceType(elem *Type, n uint64, pos lexer.Position) *Type {
	name := "Seq_" + goMangle(elem) + "_" + strconv.FormatUint(n, 10)
	sq := c.seqs[name]
	if sq == nil {
		if elem.Size > MaxSize/n {
			c.errorf(pos, "sequence is too large: more than %d bytes", MaxSize)
			return nil
		}
		fields := []*Field{
			{Name: "data", GoName: "data", Type: &Type{Kind: KindArray, Elem: elem, Len: n, Size: elem.Size * n, Align: elem.Align}, Pos: pos},
			{Name: "len", GoName: "len", Type: u64Type, Pos: pos},
		}
		fs, size, align, ok := layout(fields, 8, pos)
		if !ok {
			c.errorf(pos, "sequence is too large: more than %d bytes", MaxSize)
			return nil
		}
		sq = &SequenceType{Elem: elem, Cap: n, GoName: name, Fields: fs, Size: size, Align: align, Pos: pos}
		c.seqs[name] = sq
		c.file.Decls = append(c.file.Decls, sq)
	}
	return &Type{Kind: KindSequence, Seq: sq, Size: sq.Size, Align: sq.Align}
}

// goMangle names a type inside the Go name of a sequence type. User Go
// names contain no underscore, so these names cannot clash with them.
func goMangle(t *Type) string {
	t = t.Resolved()
	switch t.Kind {
	case KindPrimitive:
		return t.Prim.String()
	case KindEnum:
		return t.Enum.GoName
	case KindStruct:
		return t.Struct.GoName
	case KindString:
		return t.Str.GoName
	case KindSequence:
		return t.Seq.GoName
	case KindArray:
		return "Arr" + strconv.FormatUint(t.Len, 10) + "_" + goMangle(t.Elem)
	}
	return "?"
}

func (c *checker) named(s *symbol) Named {
	return Named{Name: s.name, Scope: s.scope.path, GoName: c.goTypeName(s), Pos: s.pos}
}

// goTypeName is the Go name of a declaration: the CamelCase of the modules
// below the top-level one, then of its own name (robot::sensors::Imu ->
// SensorsImu).
func (c *checker) goTypeName(s *symbol) string {
	var b strings.Builder
	for i, m := range s.scope.path {
		if i > 0 {
			b.WriteString(GoCamel(m))
		}
	}
	b.WriteString(GoCamel(s.name))
	return b.String()
}

func (c *checker) resolveStruct(s *symbol) *Type {
	d := s.strct
	c.annotations(s.annots, "a struct", structAnnotations)
	if d.Base != nil {
		c.errorf(d.Base.Pos, "struct inheritance is not supported: add a member of type %s instead", nameString(d.Base))
	}
	if d.Body == nil {
		c.errorf(s.pos, "forward declarations are not supported (nor needed: types may be used before their declaration)")
		return nil
	}
	if len(d.Body.Members) == 0 {
		c.errorf(s.pos, "struct %s has no members: an empty struct has no C layout", s.name)
		return nil
	}
	st := &Struct{Named: c.named(s)}
	ok := true
	names := map[string]*Field{}
	var fields []*Field
	for _, m := range d.Body.Members {
		c.annotations(m.Annotations, "a struct member", nil)
		t := c.typeSpec(m.Type, s.scope)
		for _, decl := range m.Declarators {
			ft := c.withDims(t, decl.Dims, s.scope)
			name, good := c.ident(decl.Name)
			if !good || ft == nil {
				ok = false
				continue
			}
			f := &Field{Name: name, GoName: GoCamel(name), Type: ft, Pos: decl.Name.Pos}
			if prev := names[strings.ToLower(name)]; prev != nil {
				if prev.Name == name {
					c.errorf(f.Pos, "duplicate member %s in struct %s (previous at %s)", name, s.name, posString(prev.Pos))
				} else {
					c.errorf(f.Pos, "member %s collides with %s at %s: IDL names must differ in more than case", name, prev.Name, posString(prev.Pos))
				}
				ok = false
				continue
			}
			names[strings.ToLower(name)] = f
			fields = append(fields, f)
		}
	}
	if !ok {
		return nil
	}
	fs, size, align, good := layout(fields, 1, s.pos)
	if !good {
		c.errorf(s.pos, "struct %s is too large: more than %d bytes", s.name, MaxSize)
		return nil
	}
	st.Fields, st.Size, st.Align = fs, size, align
	st.Layout = CanonicalLayout(st)
	st.LayoutHash = layoutHash(st.Layout)
	c.file.Decls = append(c.file.Decls, st)
	return &Type{Kind: KindStruct, Struct: st, Size: size, Align: align}
}

func (c *checker) resolveEnum(s *symbol) *Type {
	d := s.enum
	e := &Enum{Named: c.named(s), Bits: 32}
	found := c.annotations(s.annots, "an enum", enumAnnotations)
	if a := found["bit_bound"]; a != nil {
		if v, ok := c.annotationInt(a, s.scope); ok {
			switch v.Int64() {
			case 8, 16, 32, 64:
				if v.IsInt64() {
					e.Bits = int(v.Int64())
					break
				}
				fallthrough
			default:
				c.errorf(a.Args.Values[0].Pos, "expected @bit_bound of 8, 16, 32 or 64, found %s", v)
			}
		}
	}
	limit := new(big.Int).Lsh(big.NewInt(1), uint(e.Bits))
	next := big.NewInt(0)
	ok := true
	values := map[uint64]*Enumerator{}
	for _, x := range d.Enumerators {
		name := strings.TrimPrefix(x.Name.Name, "_")
		found := c.annotations(x.Annotations, "an enumerator", enumeratorAnnotations)
		v := next
		pos := x.Name.Pos
		if a := found["value"]; a != nil {
			if val, good := c.annotationInt(a, s.scope); good {
				v, pos = val, a.Args.Values[0].Pos
			} else {
				ok = false
				continue
			}
		}
		if v.Sign() < 0 || v.Cmp(limit) >= 0 {
			c.errorf(pos, "value %s of enumerator %s overflows @bit_bound(%d): expected 0..%s", v, name, e.Bits, new(big.Int).Sub(limit, big.NewInt(1)))
			ok = false
			next = new(big.Int).Add(v, big.NewInt(1))
			continue
		}
		en := &Enumerator{Name: name, GoName: e.GoName + GoCamel(name), Value: v.Uint64(), Pos: x.Name.Pos}
		if prev := values[en.Value]; prev != nil {
			c.errorf(pos, "enumerator %s has the value %d of %s (at %s)", name, en.Value, prev.Name, posString(prev.Pos))
			ok = false
		}
		values[en.Value] = en
		e.Enumerators = append(e.Enumerators, en)
		next = new(big.Int).Add(v, big.NewInt(1))
	}
	if !ok {
		return nil
	}
	c.file.Decls = append(c.file.Decls, e)
	size := uint64(e.Bits / 8)
	return &Type{Kind: KindEnum, Enum: e, Size: size, Align: size}
}

func (c *checker) resolveTypedef(s *symbol) *Type {
	t, done := c.typedefs[s.tdef]
	if !done {
		c.typedefs[s.tdef] = nil // a cycle through the spec ends here
		t = c.typeSpec(s.tdef.Type, s.scope)
		c.typedefs[s.tdef] = t
	}
	t = c.withDims(t, s.decl.Dims, s.scope)
	if t == nil {
		return nil
	}
	td := &Typedef{Named: c.named(s), Type: t}
	c.file.Decls = append(c.file.Decls, td)
	return &Type{Kind: KindTypedef, Typedef: td, Size: t.Size, Align: t.Align}
}

// ---- constants ----

func (c *checker) constValue(s *symbol, usePos lexer.Position) *big.Int {
	switch s.state {
	case resolved:
		return s.val
	case resolving:
		i := len(c.cstack) - 1
		for i > 0 && c.cstack[i] != s {
			i--
		}
		var names []string
		for _, x := range c.cstack[i:] {
			names = append(names, x.name)
		}
		c.errorf(usePos, "constant definition cycle: %s -> %s", strings.Join(names, " -> "), s.name)
		return nil
	}
	s.state = resolving
	c.cstack = append(c.cstack, s)
	s.val = c.resolveConst(s)
	c.cstack = c.cstack[:len(c.cstack)-1]
	s.state = resolved
	return s.val
}

func (c *checker) resolveConst(s *symbol) *big.Int {
	d := s.cnst
	t := c.typeSpec(d.Type, s.scope)
	v, ok := c.eval(d.Value, s.scope)
	if t == nil {
		return nil
	}
	r := t.Resolved()
	if r.Kind != KindPrimitive || !r.Prim.IsInteger() {
		c.errorf(typeSpecPos(d.Type), "expected integer type for constant %s, found %s", s.name, typeString(t))
		return nil
	}
	if !ok {
		return nil
	}
	lo, hi := intRange(r.Prim)
	if v.Cmp(lo) < 0 || v.Cmp(hi) > 0 {
		c.errorf(d.Value.Pos, "constant %s overflows %s (%s..%s)", v, r.Prim, lo, hi)
		return nil
	}
	s.mconst = &Const{Named: c.named(s), Type: t, Value: v}
	return v
}

func typeSpecPos(ts ast.TypeSpec) lexer.Position {
	switch t := ts.(type) {
	case *ast.PrimitiveType:
		return t.Pos
	case *ast.StringType:
		return t.Pos
	case *ast.SequenceType:
		return t.Pos
	case *ast.MapType:
		return t.Pos
	case *ast.NamedType:
		return t.Pos
	}
	return lexer.Position{}
}

func intRange(p Prim) (lo, hi *big.Int) {
	bits := uint(p.Size() * 8)
	one := big.NewInt(1)
	if p.Signed() {
		hi = new(big.Int).Sub(new(big.Int).Lsh(one, bits-1), one)
		lo = new(big.Int).Neg(new(big.Int).Lsh(one, bits-1))
		return lo, hi
	}
	return big.NewInt(0), new(big.Int).Sub(new(big.Int).Lsh(one, bits), one)
}

// precedence of the binary operators, as in IDL and C.
var precedence = map[string]int{
	"|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
}

// eval evaluates an integer constant expression.
func (c *checker) eval(e *ast.Expr, sc *scope) (*big.Int, bool) {
	ok := true
	vals := []*big.Int{c.unary(e.First, sc)}
	for _, op := range e.Rest {
		vals = append(vals, c.unary(op.Right, sc))
	}
	for _, v := range vals {
		ok = ok && v != nil
	}
	if !ok {
		return nil, false
	}
	// Precedence climbing over the flat operand/operator list.
	i := 0
	var climb func(minPrec int) *big.Int
	climb = func(minPrec int) *big.Int {
		lhs := vals[i]
		for i < len(e.Rest) && precedence[e.Rest[i].Op] >= minPrec {
			op := e.Rest[i]
			i++
			rhs := vals[i]
			for i < len(e.Rest) && precedence[e.Rest[i].Op] > precedence[op.Op] {
				rhs = climb(precedence[op.Op] + 1)
				if rhs == nil {
					return nil
				}
			}
			lhs = c.binary(op, lhs, rhs)
			if lhs == nil {
				return nil
			}
		}
		return lhs
	}
	v := climb(1)
	return v, v != nil
}

func (c *checker) binary(op *ast.BinaryOp, x, y *big.Int) *big.Int {
	z := new(big.Int)
	switch op.Op {
	case "|":
		z.Or(x, y)
	case "^":
		z.Xor(x, y)
	case "&":
		z.And(x, y)
	case "<<", ">>":
		if y.Sign() < 0 || y.Cmp(big.NewInt(maxConstBits)) >= 0 {
			c.errorf(op.Pos, "shift count %s out of range (0..%d)", y, maxConstBits-1)
			return nil
		}
		if op.Op == "<<" {
			z.Lsh(x, uint(y.Uint64()))
		} else {
			z.Rsh(x, uint(y.Uint64()))
		}
	case "+":
		z.Add(x, y)
	case "-":
		z.Sub(x, y)
	case "*":
		z.Mul(x, y)
	case "/", "%":
		if y.Sign() == 0 {
			c.errorf(op.Pos, "division by zero")
			return nil
		}
		if op.Op == "/" {
			z.Quo(x, y) // truncated, as in C
		} else {
			z.Rem(x, y)
		}
	}
	if z.BitLen() > maxConstBits {
		c.errorf(op.Pos, "constant overflow: more than %d bits", maxConstBits)
		return nil
	}
	return z
}

func (c *checker) unary(u *ast.Unary, sc *scope) *big.Int {
	if u.Primary != nil {
		return c.primary(u.Primary, sc)
	}
	x := c.unary(u.Operand, sc)
	if x == nil {
		return nil
	}
	switch u.Op {
	case "-":
		return new(big.Int).Neg(x)
	case "~":
		return new(big.Int).Not(x)
	}
	return x
}

func (c *checker) primary(p ast.Primary, sc *scope) *big.Int {
	switch p := p.(type) {
	case *ast.IntLit:
		return c.intLit(p)
	case *ast.FloatLit:
		c.errorf(p.Pos, "expected integer, found floating-point literal %s: only integer constants are supported", p.Value)
	case *ast.StringLit:
		c.errorf(p.Pos, "expected integer, found string %s", strconv.Quote(p.Value))
	case *ast.BoolLit:
		c.errorf(p.Pos, "expected integer, found %s", p.Value)
	case *ast.Paren:
		v, _ := c.eval(p.Inner, sc)
		return v
	case *ast.NameRef:
		sym := c.use(p.Name, sc)
		if sym == nil {
			return nil
		}
		if sym.kind != symConst {
			c.errorf(p.Pos, "expected integer constant, found %s %s", sym.kind, sym.scoped())
			return nil
		}
		return c.constValue(sym, p.Pos)
	}
	return nil
}

func (c *checker) intLit(p *ast.IntLit) *big.Int {
	s, base := p.Value, 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
		if i := strings.IndexAny(s, "89"); i >= 0 {
			pos := p.Pos
			pos.Column += i + 1
			pos.Offset += i + 1
			c.errorf(pos, "invalid digit %q in octal literal %s", s[i], p.Value)
			return nil
		}
	}
	v, ok := new(big.Int).SetString(s, base)
	if !ok || v.BitLen() > maxConstBits {
		c.errorf(p.Pos, "invalid integer literal %s", p.Value)
		return nil
	}
	return v
}

// ---- annotations ----

var (
	structAnnotations     = map[string]bool{"final": true, "nested": true, "topic": true}
	enumAnnotations       = map[string]bool{"bit_bound": true}
	enumeratorAnnotations = map[string]bool{"value": true}
	// serviceAnnotations are the annotations of every service, whatever
	// its pattern; patternAnnotations those of one pattern only.
	commonAnnotations = map[string]bool{
		"go_name": true, "attribute": true, "require_attribute": true, "max_nodes": true,
	}
	serviceAnnotations = map[string]bool{} // commonAnnotations and every patternAnnotations
	patternAnnotations = map[Pattern]map[string]bool{
		PublishSubscribe: {
			"history_size": true, "subscriber_max_buffer_size": true, "subscriber_max_borrowed_samples": true,
			"max_publishers": true, "max_subscribers": true, "enable_safe_overflow": true,
			"user_header": true, "publisher_max_loaned_samples": true, "backpressure": true, "max_slice_len": true,
			"subscriber_buffer_size": true, "subscriber_history_request": true,
		},
		RequestResponse: {
			"enable_safe_overflow_for_requests": true, "enable_safe_overflow_for_responses": true,
			"enable_fire_and_forget_requests": true, "max_active_requests_per_client": true,
			"max_loaned_requests": true, "max_response_buffer_size": true,
			"max_borrowed_responses_per_pending_response": true, "max_servers": true, "max_clients": true,
			"client_max_active_requests": true, "client_backpressure": true, "client_max_slice_len": true,
			"server_max_loaned_responses_per_request": true, "server_backpressure": true, "server_max_slice_len": true,
		},
		Event: {
			"max_notifiers": true, "max_listeners": true, "event_id_max_value": true, "deadline": true,
			"notifier_created_event": true, "notifier_dropped_event": true, "notifier_dead_event": true,
			"default_event_id": true,
		},
	}
	// repeatable are the annotations that a declaration may carry more
	// than once.
	repeatable = map[string]bool{"attribute": true, "require_attribute": true}
	// rejected explains the annotations that exist in IDL (or in iceoryx2)
	// but cannot be honoured.
	rejected = map[string]string{
		"optional":      "@optional is not supported: an optional member has no fixed size",
		"external":      "@external is not supported: an external member is a pointer",
		"mutable":       "@mutable is not supported: only @final types (a fixed layout) can be shared",
		"appendable":    "@appendable is not supported: only @final types (a fixed layout) can be shared",
		"extensibility": "@extensibility is not supported: only @final types (a fixed layout) can be shared",
		"key":           "@key is not supported: iox2 services have no keyed instances",
		"history":       "unknown annotation @history: did you mean @history_size?",
		// iceoryx2's builder methods whose annotations are named otherwise.
		"max_loaned_samples":               "unknown annotation @max_loaned_samples: did you mean @publisher_max_loaned_samples?",
		"backpressure_strategy":            "unknown annotation @backpressure_strategy: did you mean @backpressure?",
		"initial_max_slice_len":            "unknown annotation @initial_max_slice_len: did you mean @max_slice_len?",
		"buffer_size":                      "unknown annotation @buffer_size: did you mean @subscriber_buffer_size?",
		"history_request":                  "unknown annotation @history_request: did you mean @subscriber_history_request?",
		"max_event_id":                     "unknown annotation @max_event_id: did you mean @event_id_max_value?",
		"max_active_requests":              "unknown annotation @max_active_requests: did you mean @client_max_active_requests?",
		"max_loaned_responses_per_request": "unknown annotation @max_loaned_responses_per_request: did you mean @server_max_loaned_responses_per_request?",
		"event_id":                         "unknown annotation @event_id: did you mean @default_event_id?",
	}
	// where tells, for a misplaced annotation, where it belongs.
	where = map[string]string{
		"bit_bound": "an enum", "value": "an enumerator", "final": "a struct", "nested": "a struct", "topic": "a struct",
	}
)

func init() {
	for k := range commonAnnotations {
		serviceAnnotations[k] = true
	}
	for _, m := range patternAnnotations {
		for k := range m {
			serviceAnnotations[k] = true
		}
	}
	for k := range serviceAnnotations {
		where[k] = "a service"
	}
}

// annotations checks the annotations of a declaration against the set it
// allows and returns the allowed ones by name.
func (c *checker) annotations(list []*ast.Annotation, on string, allowed map[string]bool) map[string]*ast.Annotation {
	found := map[string]*ast.Annotation{}
	for _, a := range list {
		name := a.Name.Name
		switch {
		case allowed[name]:
			if prev := found[name]; prev != nil {
				if !repeatable[name] {
					c.errorf(a.Pos, "duplicate annotation @%s (previous at %s)", name, posString(prev.Pos))
				}
				continue
			}
			found[name] = a
		case rejected[name] != "":
			c.errorf(a.Pos, "%s", rejected[name])
		case where[name] != "":
			c.errorf(a.Pos, "annotation @%s is not allowed on %s, only on %s", name, on, where[name])
		default:
			c.errorf(a.Pos, "unknown annotation @%s", name)
		}
	}
	for name, a := range found {
		if structAnnotations[name] && a.Args != nil && len(a.Args.Values) > 0 {
			c.errorf(a.Args.Pos, "@%s takes no arguments", name)
		}
	}
	return found
}

func (c *checker) noAnnotations(list []*ast.Annotation, on string) {
	c.annotations(list, on, nil)
}

// annotationArg returns the single argument of an annotation.
func (c *checker) annotationArg(a *ast.Annotation, what string) *ast.Expr {
	if a.Args == nil || len(a.Args.Values) != 1 {
		pos := a.Pos
		if a.Args != nil {
			pos = a.Args.Pos
		}
		c.errorf(pos, "@%s takes one %s argument", a.Name.Name, what)
		return nil
	}
	return a.Args.Values[0]
}

func (c *checker) annotationInt(a *ast.Annotation, sc *scope) (*big.Int, bool) {
	e := c.annotationArg(a, "integer")
	if e == nil {
		return nil, false
	}
	return c.eval(e, sc)
}
