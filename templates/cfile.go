package templates

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/iox2go/iox2go/idl"
)

// cFile is the data of the C templates.
type cFile struct {
	header
	*idl.File
	Guard string // include guard macro
	API   string // the name of the typed API header
}

// C returns the C header generated for f: "<file>.iox2.h". It compiles as
// C11 and as C++11 and later.
func C(f *idl.File, opts Options) ([]byte, error) {
	h := newHeader(f, opts)
	base := strings.TrimSuffix(h.SourceBase, ".idl")
	return execute("c/file", &cFile{header: h, File: f, Guard: "IOX2GEN_" + cMacroName(base) + "_IOX2_H", API: OutputName(h.SourceBase, "c-api")})
}

// cMacroName upper-cases s and replaces what a macro name cannot hold.
func cMacroName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r < 128 && (r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// cReserved holds the keywords of C and C++ (and a few macros of the
// headers the file includes): a member with such a name gets a trailing
// underscore in C.
var cReserved = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`alignas alignof and and_eq asm auto bitand bitor bool break
		case catch char char8_t char16_t char32_t class compl concept const consteval constexpr
		constinit const_cast continue co_await co_return co_yield decltype default delete do
		double dynamic_cast else enum explicit export extern false float for friend goto if
		inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq
		private protected public register reinterpret_cast requires restrict return short
		signed sizeof static static_assert static_cast struct switch template this
		thread_local throw true try typedef typeid typename union unsigned using virtual void
		volatile wchar_t while xor xor_eq offsetof errno`) {
		cReserved[k] = true
	}
}

// cIdent makes an IDL name safe as a C identifier.
func cIdent(name string) string {
	if cReserved[name] {
		return name + "_"
	}
	return name
}

// cScoped is the C name of a declaration: its modules and name joined with
// underscores (robot_Imu).
func cScoped(scope []string, name string) string {
	if len(scope) == 0 {
		return cIdent(name)
	}
	return strings.Join(scope, "_") + "_" + name
}

func cNamed(n *idl.Named) string { return cScoped(n.Scope, n.Name) }

var cPrims = map[idl.Prim]string{
	idl.Boolean: "bool", idl.Octet: "uint8_t", idl.Char: "char",
	idl.Int8: "int8_t", idl.Uint8: "uint8_t", idl.Int16: "int16_t", idl.Uint16: "uint16_t",
	idl.Int32: "int32_t", idl.Uint32: "uint32_t", idl.Int64: "int64_t", idl.Uint64: "uint64_t",
	idl.Float: "float", idl.Double: "double",
}

// cMangle names a type inside the C name of a sequence type.
func cMangle(t *idl.Type) string {
	t = t.Resolved()
	switch t.Kind {
	case idl.KindPrimitive:
		return t.Prim.String()
	case idl.KindEnum:
		return cNamed(&t.Enum.Named)
	case idl.KindStruct:
		return cNamed(&t.Struct.Named)
	case idl.KindString:
		return "String_" + strconv.FormatUint(t.Str.Cap, 10)
	case idl.KindSequence:
		return "Seq_" + cMangle(t.Seq.Elem) + "_" + strconv.FormatUint(t.Seq.Cap, 10)
	case idl.KindArray:
		return "Arr" + strconv.FormatUint(t.Len, 10) + "_" + cMangle(t.Elem)
	}
	return "?"
}

// cStringName and cSeqName are the C names of the shared string and
// sequence types. They are the same in every generated header, which
// defines each under its own guard, so that headers can be combined.
func cStringName(s *idl.StringType) string { return "iox2_String_" + strconv.FormatUint(s.Cap, 10) }
func cSeqName(s *idl.SequenceType) string {
	return "iox2_Seq_" + cMangle(s.Elem) + "_" + strconv.FormatUint(s.Cap, 10)
}

// cTypeName spells the element part of t (without array dimensions).
func cTypeName(t *idl.Type) string {
	switch t.Kind {
	case idl.KindPrimitive:
		return cPrims[t.Prim]
	case idl.KindEnum:
		return cNamed(&t.Enum.Named)
	case idl.KindStruct:
		return cNamed(&t.Struct.Named)
	case idl.KindTypedef:
		return cNamed(&t.Typedef.Named)
	case idl.KindString:
		return cStringName(t.Str)
	case idl.KindSequence:
		return cSeqName(t.Seq)
	}
	panic(fmt.Sprintf("templates: no C name for type kind %d", t.Kind))
}

// cDecl declares name with type t: "int16_t raw[2][4]".
func cDecl(t *idl.Type, name string) string {
	dims := ""
	for t.Kind == idl.KindArray {
		dims += "[" + strconv.FormatUint(t.Len, 10) + "]"
		t = t.Elem
	}
	return cTypeName(t) + " " + name + dims
}

// cInt writes an integer constant of type p as a C expression.
func cInt(p idl.Prim, v string) string {
	switch p {
	case idl.Int64:
		if v == "-9223372036854775808" {
			return "(-INT64_C(9223372036854775807) - 1)"
		}
		return "INT64_C(" + v + ")"
	case idl.Uint64:
		return "UINT64_C(" + v + ")"
	case idl.Int32:
		if v == "-2147483648" {
			return "(-INT32_C(2147483647) - 1)"
		}
		return "INT32_C(" + v + ")"
	case idl.Uint32:
		return "UINT32_C(" + v + ")"
	case idl.Int16, idl.Int8:
		return "((" + cPrims[p] + ")" + v + ")"
	}
	return "((" + cPrims[p] + ")" + v + "u)"
}

// cString writes s as a C string literal.
func cString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '?':
			b.WriteString(`\?`) // no trigraphs
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cFields are the fields of a struct as C members: padding members are
// named _pad0, _pad1, ... (IDL names never start with an underscore).
type cField struct {
	Decl   string // the member declaration without ';'
	Name   string // the C member name ("" for padding)
	Offset uint64
	Pad    bool
}

func cFields(fs []*idl.Field) []cField {
	var out []cField
	pads := 0
	for _, f := range fs {
		if f.Pad {
			name := "_pad" + strconv.Itoa(pads)
			pads++
			out = append(out, cField{Decl: "uint8_t " + name + "[" + strconv.FormatUint(f.Size, 10) + "]", Offset: f.Offset, Pad: true})
			continue
		}
		name := cIdent(f.Name)
		out = append(out, cField{Decl: cDecl(f.Type, name), Name: name, Offset: f.Offset})
	}
	return out
}

var cFuncs = template.FuncMap{
	"cNamed":      cNamed,
	"cScoped":     cScoped,
	"cStringName": cStringName,
	"cSeqName":    cSeqName,
	"cFields":     cFields,
	"cString":     cString,
	"cDecl":       cDecl,
	"cComment":    func(s string) string { return strings.ReplaceAll(s, "*/", "*\\/") },
	"cMacro":      cMacroName,
	"cConst": func(k *idl.Const) string {
		return cInt(k.Type.Resolved().Prim, k.Value.String())
	},
	"cEnumValue": func(e *idl.Enum, v uint64) string {
		lit := strconv.FormatUint(v, 10) + "u"
		if e.Bits == 64 {
			lit = "UINT64_C(" + strconv.FormatUint(v, 10) + ")"
		}
		return "((" + cNamed(&e.Named) + ")" + lit + ")"
	},
	"cPrim":   func(p idl.Prim) string { return cPrims[p] },
	"cLayout": cLayout,
	"cQoS":    func(q idl.QoS) string { return cQoSValue(q) },
	// cQoSMacro names the define of setting q: its annotation in upper
	// case, with the unit of a duration (DEADLINE_NS).
	"cQoSMacro": func(q idl.QoS) string {
		if q.IsDuration {
			return cMacroName(q.Name) + "_NS"
		}
		return cMacroName(q.Name)
	},
	"decls": func(f *idl.File) []idl.Decl { return f.Decls },
	// cPayload describes the payload of a service for a comment.
	"cPayload": func(s *idl.Service) string {
		if s.Slice {
			return "a slice of " + cTypeName(s.PayloadType)
		}
		return cTypeName(s.PayloadType)
	},
	// cResponse describes the response of a request-response service.
	"cResponse": func(s *idl.Service) string {
		if s.Slice {
			return "a slice of " + cTypeName(s.ResponseType)
		}
		return cTypeName(s.ResponseType)
	},
	// cPayloadTypeName is the type name a service stores: the macro of a
	// struct, or the runtime's name of a primitive slice element.
	"cPayloadTypeName":  func(s *idl.Service) string { return cTypeNameMacro(s.Payload, s.PayloadType) },
	"cResponseTypeName": func(s *idl.Service) string { return cTypeNameMacro(s.Response, s.ResponseType) },
}

// cTypeNameMacro is the type name that a service stores for a message of
// struct st (nil for a primitive) and type t.
func cTypeNameMacro(st *idl.Struct, t *idl.Type) string {
	if st != nil {
		return cNamed(&st.Named) + "_TYPE_NAME"
	}
	return cString(identityPrims[t.Prim])
}

func cQoSValue(q idl.QoS) string {
	switch {
	case q.IsBool:
		return strconv.FormatBool(q.Bool)
	case q.Enum != "":
		return cString(q.Enum)
	case q.IsDuration:
		return "UINT64_C(" + strconv.FormatInt(int64(q.Duration), 10) + ")"
	}
	return strconv.Itoa(q.Value)
}

// cAPIFile is the data of the C API template (c/api.h.tmpl): the typed
// functions of the C library (lang/c/include/iox2go.h) for the types and
// services of a file.
type cAPIFile struct {
	header
	*idl.File
	Guard    string // include guard macro
	Payload  string // the payload header: "<file>.iox2.h"
	Prims    []cPrimInfo
	Services []*cAPIService
}

// cPrimInfo is the type identity that the Go runtime derives for a
// primitive slice element (runtime/typeinfo_reflect.go): its Go name,
// size and alignment, and the layout "0 <size> . <kind>\n".
type cPrimInfo struct {
	C, Name, Func string // C type, identity name, function returning the identity
	Size          uint64
	Layout        string
	LayoutHash    string
}

func cPrimIdentity(p idl.Prim) cPrimInfo {
	name := identityPrims[p]
	layout := "0 " + strconv.FormatUint(p.Size(), 10) + " . " + name + "\n"
	sum := sha256.Sum256([]byte(layout))
	return cPrimInfo{C: cPrims[p], Name: name, Func: "iox2gen_" + name + "_type_info", Size: p.Size(), Layout: layout, LayoutHash: hex.EncodeToString(sum[:])}
}

// cMessage is what a service sends: the C type of the payload (or of a
// slice's elements) and the expression of its type identity.
type cMessage struct {
	C    string // robot_Imu, float
	Info string // const iox2_type_info *: robot_Imu_type_info()
}

func cMessageOf(st *idl.Struct, t *idl.Type) cMessage {
	if st != nil {
		n := cNamed(&st.Named)
		return cMessage{C: n, Info: n + "_type_info()"}
	}
	p := cPrimIdentity(t.Prim)
	return cMessage{C: p.C, Info: p.Func + "()"}
}

// cAPIService holds what the C API of one service needs.
type cAPIService struct {
	*idl.Service
	Prefix   string // robot_Imu: the prefix of the service's functions
	Macro    string // robot_Imu_SERVICE: the prefix of its macros in the payload header
	Payload  cMessage
	Response cMessage
	Header   string // the C type of the user header, "" without one
	Spec     []string
	// Port options: "member = value" for the options struct of each port.
	Publisher, Subscriber, Client, Server []string
	DefaultEventID                        string
}

// cSpecFields are the members of iox2_*_spec that the service QoS set,
// by annotation (the same names, except the deadline's unit).
var cSpecFields = map[string]string{
	"deadline": "deadline_ns",
}

// cPortFields are the members of the port options structs that the port
// settings set.
var cPortFields = map[string]string{
	"publisher_max_loaned_samples":            "max_loaned_samples",
	"backpressure":                            "backpressure",
	"max_slice_len":                           "max_slice_len",
	"subscriber_buffer_size":                  "buffer_size",
	"subscriber_history_request":              "history_request",
	"client_max_active_requests":              "max_active_requests",
	"client_backpressure":                     "backpressure",
	"client_max_slice_len":                    "max_slice_len",
	"server_max_loaned_responses_per_request": "max_loaned_responses_per_request",
	"server_backpressure":                     "backpressure",
	"server_max_slice_len":                    "max_slice_len",
}

// cAPIValue spells the value of q for an int64_t member of a spec or
// options struct.
func cAPIValue(q idl.QoS) string {
	switch {
	case q.IsBool:
		if q.Bool {
			return "1"
		}
		return "0"
	case q.Enum != "":
		return "IOX2_" + q.Enum // IOX2_DISCARD_DATA, IOX2_RETRY_UNTIL_DELIVERED
	case q.IsDuration:
		return "INT64_C(" + strconv.FormatInt(int64(q.Duration), 10) + ")"
	}
	return strconv.Itoa(q.Value)
}

func cAPIAssignments(qs []idl.QoS, fields map[string]string, all bool) ([]string, error) {
	var out []string
	for _, q := range qs {
		m, ok := fields[q.Name]
		if !ok {
			if !all {
				return nil, fmt.Errorf("no C option member for setting %s", q.Name)
			}
			m = q.Name
		}
		out = append(out, m+" = "+cAPIValue(q))
	}
	return out, nil
}

// CAPI returns the typed C API generated for f: "<file>.iox2.api.h". It
// includes the payload header and the C library's header, iox2go.h.
func CAPI(f *idl.File, opts Options) ([]byte, error) {
	h := newHeader(f, opts)
	base := strings.TrimSuffix(h.SourceBase, ".idl")
	d := &cAPIFile{header: h, File: f, Guard: "IOX2GEN_" + cMacroName(base) + "_IOX2_API_H", Payload: OutputName(h.SourceBase, "c")}
	prims := map[idl.Prim]bool{}
	addPrim := func(st *idl.Struct, t *idl.Type) {
		if st == nil && t != nil && !prims[t.Prim] {
			prims[t.Prim] = true
			d.Prims = append(d.Prims, cPrimIdentity(t.Prim))
		}
	}
	for _, s := range f.Services {
		prefix := cScoped(s.Scope, s.GoName)
		a := &cAPIService{Service: s, Prefix: prefix, Macro: prefix + "_SERVICE", DefaultEventID: "IOX2_UNSET"}
		var err error
		if a.Spec, err = cAPIAssignments(s.QoS, cSpecFields, true); err != nil {
			return nil, err
		}
		switch s.Pattern {
		case idl.PublishSubscribe:
			a.Payload = cMessageOf(s.Payload, s.PayloadType)
			addPrim(s.Payload, s.PayloadType)
			if s.UserHeader != nil {
				a.Header = cNamed(&s.UserHeader.Named)
			}
			if a.Publisher, err = cAPIAssignments(s.Publisher, cPortFields, false); err != nil {
				return nil, err
			}
			if a.Subscriber, err = cAPIAssignments(s.Subscriber, cPortFields, false); err != nil {
				return nil, err
			}
		case idl.RequestResponse:
			a.Payload = cMessageOf(s.Payload, s.PayloadType)
			a.Response = cMessageOf(s.Response, s.ResponseType)
			addPrim(s.Payload, s.PayloadType)
			addPrim(s.Response, s.ResponseType)
			if a.Client, err = cAPIAssignments(s.Client, cPortFields, false); err != nil {
				return nil, err
			}
			if a.Server, err = cAPIAssignments(s.Server, cPortFields, false); err != nil {
				return nil, err
			}
		case idl.Event:
			for _, q := range s.Notifier {
				if q.Name == "default_event_id" {
					a.DefaultEventID = strconv.Itoa(q.Value)
				}
			}
		}
		d.Services = append(d.Services, a)
	}
	return execute("c/api", d)
}

// cLayout writes a canonical layout description as C string literals,
// one per line of it, each on a line of its own after sep: " \\" in a
// macro body, "" in an initializer.
func cLayout(layout, sep, indent string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(layout, "\n") {
		if l != "" {
			text, nl := strings.CutSuffix(l, "\n")
			q := cString(text)
			if nl {
				q = q[:len(q)-1] + `\n"`
			}
			b.WriteString(sep + "\n" + indent + q)
		}
	}
	return b.String()
}
