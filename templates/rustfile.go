package templates

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"unicode"

	"github.com/iox2go/iox2go/idl"
)

// rustFile is the data of the Rust templates.
type rustFile struct {
	header
	*idl.File
	Body string // the root module, rendered
}

// rustModule is an IDL module as a Rust module: the file's root, or a
// `pub mod` inside it.
type rustModule struct {
	Name     string   // IDL name ("" for the root)
	Path     []string // scope of its items
	Consts   []*idl.Const
	Decls    []idl.Decl // enums, typedefs, structs, in dependency order; at the root also strings and sequences
	Services []*idl.Service
	Children []*rustModule
}

func (m *rustModule) child(name string) *rustModule {
	for _, c := range m.Children {
		if c.Name == name {
			return c
		}
	}
	c := &rustModule{Name: name, Path: append(append([]string(nil), m.Path...), name)}
	m.Children = append(m.Children, c)
	return c
}

func (m *rustModule) at(scope []string) *rustModule {
	for _, s := range scope {
		m = m.child(s)
	}
	return m
}

// Rust returns the Rust source generated for f: "<file>.iox2.rs". It can be
// a crate root, a module file or include!d: all paths are relative.
func Rust(f *idl.File, opts Options) ([]byte, error) {
	root := &rustModule{}
	for _, k := range f.Consts {
		m := root.at(k.Scope)
		m.Consts = append(m.Consts, k)
	}
	for _, d := range f.Decls {
		var scope []string
		switch d := d.(type) {
		case *idl.Struct:
			scope = d.Scope
		case *idl.Enum:
			scope = d.Scope
		case *idl.Typedef:
			scope = d.Scope
		}
		m := root.at(scope)
		m.Decls = append(m.Decls, d)
	}
	for _, s := range f.Services {
		m := root.at(s.Scope)
		m.Services = append(m.Services, s)
	}
	body, err := renderRustModule(root)
	if err != nil {
		return nil, err
	}
	return execute("rust/file", &rustFile{header: newHeader(f, opts), File: f, Body: body})
}

// renderRustModule renders the items of m, then each child module inside
// its `pub mod`, indented by four spaces a level.
func renderRustModule(m *rustModule) (string, error) {
	var w rustWriter
	if err := w.module(m, ""); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// rustWriter writes nested modules, each line indented once with the
// indentation of its depth (re-indenting the text of each child module
// in its parent took time cubic in the depth).
type rustWriter struct {
	b strings.Builder
	// skipNL drops the newlines at the start of a module's body.
	skipNL bool
}

func (w *rustWriter) module(m *rustModule, indent string) error {
	out, err := execute("rust/module", m)
	if err != nil {
		return err
	}
	w.write(string(out), indent)
	for _, c := range m.Children {
		w.write(fmt.Sprintf("\n\n/// IDL module %s.\n%spub mod %s {\n", strings.Join(c.Path, "::"), rustAllow("module", c.Name), rustIdent(c.Name)), indent)
		w.skipNL = true
		if err := w.module(c, indent+"    "); err != nil {
			return err
		}
		w.skipNL = false
		w.write("\n}", indent)
	}
	return nil
}

// write writes s, indenting its lines that are not blank. s starts at
// the start of a line or with a newline.
func (w *rustWriter) write(s, indent string) {
	if w.skipNL {
		s = strings.TrimLeft(s, "\n")
		if s == "" {
			return
		}
		w.skipNL = false
	}
	if indent == "" {
		w.b.WriteString(s)
		return
	}
	for line := range strings.SplitAfterSeq(s, "\n") {
		if strings.TrimSpace(line) != "" {
			w.b.WriteString(indent)
		}
		w.b.WriteString(line)
	}
}

var rustKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`as async await break const continue crate dyn else enum
		extern false fn for if impl in let loop match mod move mut pub ref return self Self
		static struct super trait true type unsafe use where while abstract become box do
		final macro override priv typeof unsized virtual yield try gen`) {
		rustKeywords[k] = true
	}
}

// rustIdent makes an IDL name a Rust identifier: keywords become raw
// identifiers (r#type), except those that cannot (self, Self, super,
// crate), which get a trailing underscore.
func rustIdent(name string) string {
	switch {
	case name == "self" || name == "Self" || name == "super" || name == "crate":
		return name + "_"
	case rustKeywords[name]:
		return "r#" + name
	}
	return name
}

// rustPath is the path of item name declared in module scope, seen from
// module from.
func rustPath(from, scope []string, name string) string {
	k := 0
	for k < len(from) && k < len(scope) && from[k] == scope[k] {
		k++
	}
	var b strings.Builder
	for range len(from) - k {
		b.WriteString("super::")
	}
	for _, s := range scope[k:] {
		b.WriteString(rustIdent(s) + "::")
	}
	b.WriteString(rustIdent(name))
	return b.String()
}

var rustPrims = map[idl.Prim]string{
	idl.Boolean: "u8", idl.Octet: "u8", idl.Char: "u8",
	idl.Int8: "i8", idl.Uint8: "u8", idl.Int16: "i16", idl.Uint16: "u16",
	idl.Int32: "i32", idl.Uint32: "u32", idl.Int64: "i64", idl.Uint64: "u64",
	idl.Float: "f32", idl.Double: "f64",
}

func rustStringName(s *idl.StringType) string { return "String_" + strconv.FormatUint(s.Cap, 10) }
func rustSeqName(s *idl.SequenceType) string {
	return "Seq_" + cMangle(s.Elem) + "_" + strconv.FormatUint(s.Cap, 10)
}

// rustType spells t as seen from module from.
func rustType(t *idl.Type, from []string) string {
	switch t.Kind {
	case idl.KindPrimitive:
		return rustPrims[t.Prim]
	case idl.KindEnum:
		return rustPath(from, t.Enum.Scope, t.Enum.Name)
	case idl.KindStruct:
		return rustPath(from, t.Struct.Scope, t.Struct.Name)
	case idl.KindTypedef:
		return rustPath(from, t.Typedef.Scope, t.Typedef.Name)
	case idl.KindString:
		return rustPath(from, nil, rustStringName(t.Str))
	case idl.KindSequence:
		return rustPath(from, nil, rustSeqName(t.Seq))
	case idl.KindArray:
		return "[" + rustType(t.Elem, from) + "; " + strconv.FormatUint(t.Len, 10) + "]"
	}
	panic(fmt.Sprintf("templates: no Rust type for kind %d", t.Kind))
}

// rustString writes s as a Rust string literal.
func rustString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type rustField struct {
	Name, Type string
	Offset     uint64
	Pad        bool
}

func rustFields(fs []*idl.Field, from []string) []rustField {
	var out []rustField
	pads := 0
	for _, f := range fs {
		if f.Pad {
			out = append(out, rustField{Name: "_pad" + strconv.Itoa(pads), Type: "[u8; " + strconv.FormatUint(f.Size, 10) + "]", Offset: f.Offset, Pad: true})
			pads++
			continue
		}
		out = append(out, rustField{Name: rustIdent(f.Name), Type: rustType(f.Type, from), Offset: f.Offset})
	}
	return out
}

// snake turns a Go name into a Rust snake_case name: MyFunkServiceName ->
// my_funk_service_name.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Lints that IDL names may trip, allowed where they do.
func isUpperCamel(s string) bool {
	return s != "" && unicode.IsUpper(rune(s[0])) && !strings.Contains(s, "_")
}

func hasUpper(s string) bool { return strings.ToLower(s) != s }
func hasLower(s string) bool { return strings.ToUpper(s) != s }

func rustAllow(kind, name string) string {
	var lint string
	switch kind {
	case "type":
		if !isUpperCamel(name) {
			lint = "non_camel_case_types"
		}
	case "module", "field":
		if hasUpper(name) {
			lint = "non_snake_case"
		}
	case "const":
		if hasLower(name) {
			lint = "non_upper_case_globals"
		}
	}
	if lint == "" {
		return ""
	}
	return "#[allow(" + lint + ")]\n"
}

var rustFuncs = template.FuncMap{
	"rustIdent":      rustIdent,
	"rustType":       rustType,
	"rustString":     rustString,
	"rustFields":     rustFields,
	"rustStringName": rustStringName,
	"rustSeqName":    rustSeqName,
	"rustPrim":       func(p idl.Prim) string { return rustPrims[p] },
	"rustPath":       rustPath,
	"rustAllow":      rustAllow,
	"snake":          snake,
	"appendScope": func(scope []string, name string) []string {
		return append(append([]string(nil), scope...), name)
	},
	"upper": strings.ToUpper,
	"anyLower": func(fs []*idl.Field) bool {
		for _, f := range fs {
			if !f.Pad && hasUpper(f.Name) {
				return true
			}
		}
		return false
	},
	"anyLowerEnum": func(e *idl.Enum) bool {
		for _, x := range e.Enumerators {
			if hasLower(x.Name) {
				return true
			}
		}
		return false
	},
	"rustQoS": func(q idl.QoS) string {
		switch {
		case q.IsBool:
			return "bool = " + strconv.FormatBool(q.Bool)
		case q.Enum != "":
			return "&str = " + rustString(q.Enum)
		case q.IsDuration:
			return "core::time::Duration = core::time::Duration::from_nanos(" + strconv.FormatInt(int64(q.Duration), 10) + ")"
		}
		return "usize = " + strconv.Itoa(q.Value)
	},
	// rustPayload is the payload type of service s seen from module
	// from: the struct, or a slice [T] as iceoryx2 declares slice
	// payloads.
	"rustPayload":  func(s *idl.Service, from []string) string { return rustMessage(s.PayloadType, s.Slice, from) },
	"rustResponse": func(s *idl.Service, from []string) string { return rustMessage(s.ResponseType, s.Slice, from) },
	// rustPayloadTypeName is the type name a service stores.
	"rustPayloadTypeName": func(s *idl.Service, from []string) string {
		return rustTypeName(s.Payload, s.PayloadType, from)
	},
	"rustResponseTypeName": func(s *idl.Service, from []string) string {
		return rustTypeName(s.Response, s.ResponseType, from)
	},
}

// rustMessage is the type of a message t seen from module from: t, or a
// slice [t] as iceoryx2 declares slice payloads.
func rustMessage(t *idl.Type, slice bool, from []string) string {
	if slice {
		return "[" + rustType(t, from) + "]"
	}
	return rustType(t, from)
}

// rustTypeName is the type name a service stores for a message of struct
// st (nil for a primitive) and type t.
func rustTypeName(st *idl.Struct, t *idl.Type, from []string) string {
	if st != nil {
		return rustType(t, from) + "::TYPE_NAME"
	}
	return rustString(identityPrims[t.Prim])
}
