package idl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/types"
	"strconv"
	"strings"
)

// LayoutVersion is the version of the canonical layout description; it is
// its first line ("iox2-layout/1").
const LayoutVersion = 1

// CanonicalLayout returns the canonical layout description of s (see
// "Canonical layout description" in docs/IDL.md): a header line, then
// every enum and struct that s uses, each once, dependencies first, and s
// itself last. Each struct lists every field and every run of padding with
// its offset and size; types are spelled canonically (typedefs resolved,
// "long" written int32, arrays as int16[2][4]).
func CanonicalLayout(s *Struct) string {
	var b strings.Builder
	fmt.Fprintf(&b, "iox2-layout/%d\n", LayoutVersion)
	seen := map[any]bool{}
	var visitStruct func(*Struct)
	var visitType func(*Type)
	visitType = func(t *Type) {
		t = t.Resolved()
		switch t.Kind {
		case KindEnum:
			e := t.Enum
			if seen[e] {
				return
			}
			seen[e] = true
			fmt.Fprintf(&b, "enum %s type=%s", e.ScopedName(), e.Prim())
			for _, x := range e.Enumerators {
				fmt.Fprintf(&b, " %s=%d", x.Name, x.Value)
			}
			b.WriteByte('\n')
		case KindStruct:
			visitStruct(t.Struct)
		case KindArray:
			visitType(t.Elem)
		case KindSequence:
			visitType(t.Seq.Elem)
		}
	}
	visitStruct = func(s *Struct) {
		if seen[s] {
			return
		}
		seen[s] = true
		for _, f := range s.Fields {
			if !f.Pad {
				visitType(f.Type)
			}
		}
		fmt.Fprintf(&b, "struct %s size=%d align=%d\n", s.ScopedName(), s.Size, s.Align)
		for _, f := range s.Fields {
			if f.Pad {
				fmt.Fprintf(&b, "pad offset=%d size=%d\n", f.Offset, f.Size)
			} else {
				fmt.Fprintf(&b, "field %s offset=%d size=%d type=%s\n", f.Name, f.Offset, f.Size, f.Type)
			}
		}
		b.WriteString("end\n")
	}
	visitStruct(s)
	return b.String()
}

func layoutHash(layout string) string {
	h := sha256.Sum256([]byte(layout))
	return hex.EncodeToString(h[:])
}

// String spells t canonically, as the layout description does: typedefs
// resolved, primitives by their sized names, enums and structs by their
// scoped names, string<N>, sequence<T,N>, and arrays with their dimensions
// after the element type (int16[2][4]).
func (t *Type) String() string {
	t = t.Resolved()
	var dims string
	for t.Kind == KindArray {
		dims += "[" + strconv.FormatUint(t.Len, 10) + "]"
		t = t.Elem.Resolved()
	}
	var s string
	switch t.Kind {
	case KindPrimitive:
		s = t.Prim.String()
	case KindEnum:
		s = t.Enum.ScopedName()
	case KindStruct:
		s = t.Struct.ScopedName()
	case KindString:
		s = "string<" + strconv.FormatUint(t.Str.Cap, 10) + ">"
	case KindSequence:
		s = "sequence<" + t.Seq.Elem.String() + "," + strconv.FormatUint(t.Seq.Cap, 10) + ">"
	}
	return s + dims
}

func typeString(t *Type) string { return t.String() }

// goArchs are the architectures whose Go layout the checker confirms.
var goArchs = []string{"amd64", "arm64", "386", "arm"}

// verifyGoLayouts confirms, with go/types, that the Go structs the
// generator emits (explicit padding included) have the offsets and sizes
// of the computed C layout on every architecture in goArchs, and the
// alignment min(Align, the architecture's maximum alignment). A failure is
// a bug in the checker, reported as an error rather than as generated code
// that does not compile.
func (c *checker) verifyGoLayouts() {
	if len(c.errs) > 0 {
		return
	}
	conv := map[any]types.Type{}
	for _, arch := range goArchs {
		sizes := types.SizesFor("gc", arch)
		maxAlign := uint64(sizes.Alignof(types.Typ[types.Uint64]))
		for _, d := range c.file.Decls {
			var fields []*Field
			var size, align uint64
			var name string
			switch d := d.(type) {
			case *Struct:
				fields, size, align, name = d.Fields, d.Size, d.Align, d.ScopedName()
			case *StringType:
				fields, size, align, name = d.Fields, d.Size, d.Align, d.GoName
			case *SequenceType:
				fields, size, align, name = d.Fields, d.Size, d.Align, d.GoName
			default:
				continue
			}
			st := goStruct(fields, conv)
			offs := sizes.Offsetsof(fieldVars(st))
			bad := uint64(sizes.Sizeof(st)) != size || uint64(sizes.Alignof(st)) != min(align, maxAlign)
			for i, f := range fields {
				bad = bad || uint64(offs[i]) != f.Offset
			}
			if bad {
				c.errorf(d.Position(), "internal error: the Go layout of %s on GOARCH=%s differs from its C layout", name, arch)
			}
		}
	}
}

func fieldVars(st *types.Struct) []*types.Var {
	vs := make([]*types.Var, st.NumFields())
	for i := range vs {
		vs[i] = st.Field(i)
	}
	return vs
}

// goStruct builds the go/types struct that the Go emitter writes for fields.
func goStruct(fields []*Field, conv map[any]types.Type) *types.Struct {
	vars := make([]*types.Var, len(fields))
	for i, f := range fields {
		var t types.Type
		name := "_"
		if f.Pad {
			t = types.NewArray(types.Typ[types.Byte], int64(f.Size))
		} else {
			t, name = goType(f.Type, conv), "F"+strconv.Itoa(i)
		}
		vars[i] = types.NewField(0, nil, name, t, false)
	}
	return types.NewStruct(vars, nil)
}

func goType(t *Type, conv map[any]types.Type) types.Type {
	t = t.Resolved()
	switch t.Kind {
	case KindPrimitive:
		return types.Typ[goBasic[t.Prim]]
	case KindEnum:
		return types.Typ[goBasic[t.Enum.Prim()]]
	case KindArray:
		return types.NewArray(goType(t.Elem, conv), int64(t.Len))
	}
	var key any
	var fields []*Field
	switch t.Kind {
	case KindStruct:
		key, fields = t.Struct, t.Struct.Fields
	case KindString:
		key, fields = t.Str, t.Str.Fields
	case KindSequence:
		key, fields = t.Seq, t.Seq.Fields
	}
	if g := conv[key]; g != nil {
		return g
	}
	g := goStruct(fields, conv)
	conv[key] = g
	return g
}

var goBasic = map[Prim]types.BasicKind{
	Boolean: types.Bool, Octet: types.Byte, Char: types.Byte,
	Int8: types.Int8, Uint8: types.Uint8, Int16: types.Int16, Uint16: types.Uint16,
	Int32: types.Int32, Uint32: types.Uint32, Int64: types.Int64, Uint64: types.Uint64,
	Float: types.Float32, Double: types.Float64,
}
