package templates

import (
	"bytes"
	"fmt"
	"go/format"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/iox2go/iox2go/idl"
)

// RuntimeImportPath is the import path of the runtime that generated Go
// code uses, imported as iox2.
const RuntimeImportPath = "github.com/iox2go/iox2go/runtime"

// goFile is the data of the Go templates.
type goFile struct {
	header
	Package string
	*idl.File
	imports map[string]string // import path -> package name
}

// Q records that the file uses the package at importPath and returns the
// name to qualify its identifiers with. The runtime is imported as iox2;
// standard packages by their last path element. Generated package-level
// names are exported, so these lower-case names never clash with them.
func (g *goFile) Q(importPath string) string {
	name := importPath[strings.LastIndex(importPath, "/")+1:]
	if importPath == RuntimeImportPath {
		name = "iox2"
	}
	g.imports[importPath] = name
	return name
}

// Imports returns the import specs, sorted: standard library first, then
// the rest (as gofmt groups them).
func (g *goFile) Imports() [][]string {
	var std, other []string
	for p, name := range g.imports {
		spec := strconv.Quote(p)
		if name != p[strings.LastIndex(p, "/")+1:] {
			spec = name + " " + spec
		}
		if strings.Contains(p, ".") {
			other = append(other, spec)
		} else {
			std = append(std, spec)
		}
	}
	sort.Strings(std)
	sort.Strings(other)
	var groups [][]string
	for _, g := range [][]string{std, other} {
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

// Go returns the Go source generated for f: "<file>.iox2.go".
func Go(f *idl.File, opts Options) ([]byte, error) {
	pkg := opts.Package
	if pkg == "" {
		pkg = f.Package
	}
	if pkg == "" {
		return nil, fmt.Errorf("%s declares no module: give the Go package name", f.Name)
	}
	if !ValidPackageName(pkg) {
		return nil, fmt.Errorf("%q is not a valid Go package name", pkg)
	}
	g := &goFile{header: newHeader(f, opts), Package: pkg, File: f, imports: map[string]string{}}
	body, err := execute("go/body", g)
	if err != nil {
		return nil, err
	}
	head, err := execute("go/head", g)
	if err != nil {
		return nil, err
	}
	return FormatGo(append(head, body...))
}

// ValidPackageName reports whether name can be the name of the package
// of the generated Go code: an identifier that is not a keyword, nor _.
func ValidPackageName(name string) bool {
	return token.IsIdentifier(name) && name != "_"
}

// FormatGo is the one formatting step of all generated Go: go/format. If
// the source does not parse, the error holds the source with line numbers.
func FormatGo(src []byte) ([]byte, error) {
	out, err := format.Source(src)
	if err != nil {
		var b bytes.Buffer
		fmt.Fprintf(&b, "generated Go does not parse: %v\n", err)
		for i, line := range strings.Split(string(src), "\n") {
			fmt.Fprintf(&b, "%5d  %s\n", i+1, line)
		}
		return nil, fmt.Errorf("%s", b.String())
	}
	return out, nil
}

// goSettingMethods are the runtime builder methods that the publisher and
// subscriber settings of a service call (the service QoS call the method
// GoCamel(name) of iox2.PublishSubscribeBuilder).
var goSettingMethods = map[string]string{
	"publisher_max_loaned_samples":            "MaxLoanedSamples",
	"backpressure":                            "Backpressure",
	"max_slice_len":                           "MaxSliceLen",
	"subscriber_buffer_size":                  "BufferSize",
	"subscriber_history_request":              "HistoryRequest",
	"default_event_id":                        "DefaultEventID",
	"client_max_active_requests":              "MaxActiveRequests",
	"client_backpressure":                     "Backpressure",
	"client_max_slice_len":                    "MaxSliceLen",
	"server_max_loaned_responses_per_request": "MaxLoanedResponsesPerRequest",
	"server_backpressure":                     "Backpressure",
	"server_max_slice_len":                    "MaxSliceLen",
}

// goServiceMethods are the service builder methods whose names are not
// GoCamel of their setting's name.
var goServiceMethods = map[string]string{
	"event_id_max_value": "EventIDMaxValue",
}

// goCall spells the builder call that applies setting q: method(argument).
func (g *goFile) goCall(method string, q idl.QoS) string {
	arg := strconv.Itoa(q.Value)
	switch {
	case q.IsBool:
		arg = strconv.FormatBool(q.Bool)
	case q.Enum != "":
		arg = g.Q(RuntimeImportPath) + "." + idl.GoCamel(q.Enum) // RETRY_UNTIL_DELIVERED -> iox2.RetryUntilDelivered
	case q.IsDuration:
		arg = g.goDuration(q.Duration)
	}
	return method + "(" + arg + ")"
}

// goDuration spells d in the largest unit of package time that divides
// it: 250 * time.Millisecond, time.Second, 1500 * time.Microsecond.
func (g *goFile) goDuration(d time.Duration) string {
	t := g.Q("time")
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"Hour", time.Hour}, {"Minute", time.Minute}, {"Second", time.Second}, {"Millisecond", time.Millisecond}, {"Microsecond", time.Microsecond}} {
		if d%u.d == 0 {
			if d == u.d {
				return t + "." + u.name
			}
			return strconv.FormatInt(int64(d/u.d), 10) + " * " + t + "." + u.name
		}
	}
	return t + ".Duration(" + strconv.FormatInt(int64(d), 10) + ")"
}

// ServiceBuilder returns the expression that starts the builder of
// service s: the payload (or slice) builder, wrapped for a user header.
func (g *goFile) ServiceBuilder(s *idl.Service) string {
	iox2 := g.Q(RuntimeImportPath)
	fn := "PublishSubscribe"
	if s.Slice {
		fn = "PublishSubscribeSlice"
	}
	b := fmt.Sprintf("%s.%s[%s](node, %sServiceName)", iox2, fn, goType(s.PayloadType), s.GoName)
	if s.UserHeader != nil {
		b = fmt.Sprintf("%s.WithUserHeader[%s](%s)", iox2, s.UserHeader.GoName, b)
	}
	return b
}

// ServiceCalls returns the builder calls that apply the service settings
// of s: QoS, attributes and required attributes, in that order.
func (g *goFile) ServiceCalls(s *idl.Service) []string {
	var calls []string
	for _, q := range s.QoS {
		m := goServiceMethods[q.Name]
		if m == "" {
			m = idl.GoCamel(q.Name)
		}
		calls = append(calls, g.goCall(m, q))
	}
	for _, a := range s.Attributes {
		calls = append(calls, "Attribute("+strconv.Quote(a.Key)+", "+strconv.Quote(a.Value)+")")
	}
	for _, a := range s.RequiredAttributes {
		calls = append(calls, "RequireAttribute("+strconv.Quote(a.Key)+", "+strconv.Quote(a.Value)+")")
	}
	return calls
}

// PortCalls returns the builder calls that apply settings, the publisher
// or subscriber settings of a service.
func (g *goFile) PortCalls(settings []idl.QoS) ([]string, error) {
	var calls []string
	for _, q := range settings {
		m, ok := goSettingMethods[q.Name]
		if !ok {
			return nil, fmt.Errorf("no Go builder method for setting %s", q.Name)
		}
		calls = append(calls, g.goCall(m, q))
	}
	return calls, nil
}

var goPrims = map[idl.Prim]string{
	idl.Boolean: "bool", idl.Octet: "byte", idl.Char: "byte",
	idl.Int8: "int8", idl.Uint8: "uint8", idl.Int16: "int16", idl.Uint16: "uint16",
	idl.Int32: "int32", idl.Uint32: "uint32", idl.Int64: "int64", idl.Uint64: "uint64",
	idl.Float: "float32", idl.Double: "float64",
}

// goType spells t in Go. Typedefs keep their names (they are aliases).
func goType(t *idl.Type) string {
	switch t.Kind {
	case idl.KindPrimitive:
		return goPrims[t.Prim]
	case idl.KindEnum:
		return t.Enum.GoName
	case idl.KindStruct:
		return t.Struct.GoName
	case idl.KindTypedef:
		return t.Typedef.GoName
	case idl.KindString:
		return t.Str.GoName
	case idl.KindSequence:
		return t.Seq.GoName
	case idl.KindArray:
		return "[" + strconv.FormatUint(t.Len, 10) + "]" + goType(t.Elem)
	}
	panic(fmt.Sprintf("templates: unknown type kind %d", t.Kind))
}

// lines splits text into lines that keep their "\n".
func lines(text string) []string {
	l := strings.SplitAfter(text, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

var goFuncs = template.FuncMap{
	"goType":  goType,
	"quote":   strconv.Quote,
	"lines":   lines,
	"minus":   func(n uint64) string { return minus(n) },
	"typeStr": func(t *idl.Type) string { return t.String() },
	"goStructs": func(f *idl.File) []*idl.Struct {
		return decls[*idl.Struct](f)
	},
	"goEnums":     func(f *idl.File) []*idl.Enum { return decls[*idl.Enum](f) },
	"goTypedefs":  func(f *idl.File) []*idl.Typedef { return decls[*idl.Typedef](f) },
	"goStrings":   func(f *idl.File) []*idl.StringType { return decls[*idl.StringType](f) },
	"goSequences": func(f *idl.File) []*idl.SequenceType { return decls[*idl.SequenceType](f) },
}

func minus(n uint64) string {
	if n == 0 {
		return ""
	}
	return "-" + strconv.FormatUint(n, 10)
}
