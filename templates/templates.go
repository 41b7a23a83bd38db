// Package templates emits Go, C and Rust from a checked IDL model
// (package idl). It works from the model only: every name, type and
// layout comes from an *idl.File, and the text comes from the
// text/template files embedded from go/, c/ and rust/, one file per
// concern (the file frame, payload types, publish-subscribe services, event
// services; for C also the typed API of the C library, c/api*.tmpl).
//
// Output is deterministic: it depends only on the model and the Options,
// never on the machine, the clock or map iteration order.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/iox2go/iox2go/idl"
)

// Version is the version of iox2gen.
const Version = "v0.1.0"

// GenVersion is the version of the generated Go code's contract with the
// runtime. Generated code checks it at compile time against
// iox2.GenVersion and iox2.MinGenVersion.
const GenVersion = 1

// Options control the output.
type Options struct {
	// Package is the Go package name. Default: the IDL file's package
	// (its first top-level module in lower case).
	Package string
	// Source is the path of the IDL file written in the header: iox2gen
	// gives SourcePath(input, outDir), the path relative to the output
	// directory, with forward slashes. Default: the file name in the
	// model.
	Source string
	// VersionMarkers adds a line with the generator's version to the
	// header. Golden tests turn it off, so that a release does not change
	// them.
	VersionMarkers bool
}

//go:embed go/*.tmpl c/*.tmpl rust/*.tmpl
var files embed.FS

var tmpl = template.Must(template.New("").Funcs(funcs).ParseFS(files, "go/*.tmpl", "c/*.tmpl", "rust/*.tmpl"))

var funcs = merge(commonFuncs, goFuncs, cFuncs, rustFuncs)

func merge(maps ...template.FuncMap) template.FuncMap {
	out := template.FuncMap{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

var commonFuncs = template.FuncMap{
	// dict builds a map from key/value pairs, to pass several values to
	// a sub-template.
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"asStruct":  func(d idl.Decl) *idl.Struct { x, _ := d.(*idl.Struct); return x },
	"asEnum":    func(d idl.Decl) *idl.Enum { x, _ := d.(*idl.Enum); return x },
	"asTypedef": func(d idl.Decl) *idl.Typedef { x, _ := d.(*idl.Typedef); return x },
	"asString":  func(d idl.Decl) *idl.StringType { x, _ := d.(*idl.StringType); return x },
	"asSeq":     func(d idl.Decl) *idl.SequenceType { x, _ := d.(*idl.SequenceType); return x },
	"primType": func(p idl.Prim) *idl.Type {
		return &idl.Type{Kind: idl.KindPrimitive, Prim: p, Size: p.Size(), Align: p.Size()}
	},
	// isPattern reports whether service s has the messaging pattern p
	// ("publish_subscribe", "request_response", "event").
	"isPattern": func(s *idl.Service, p string) bool { return s.Pattern.String() == p },
	// eventServicesOf returns the event services of f whose event ids are
	// the values of enum e.
	"eventServicesOf": func(f *idl.File, e *idl.Enum) []*idl.Service {
		var out []*idl.Service
		for _, s := range f.Services {
			if s.EventIDType == e {
				out = append(out, s)
			}
		}
		return out
	},
	"seqType": func(s *idl.SequenceType) *idl.Type {
		return &idl.Type{Kind: idl.KindSequence, Seq: s, Size: s.Size, Align: s.Align}
	},
}

// identityPrims are the type names that the runtime stores as the
// identity of a primitive slice element: those of the Go types, derived
// with reflection (byte is uint8).
var identityPrims = map[idl.Prim]string{
	idl.Boolean: "bool", idl.Octet: "uint8", idl.Char: "uint8",
	idl.Int8: "int8", idl.Uint8: "uint8", idl.Int16: "int16", idl.Uint16: "uint16",
	idl.Int32: "int32", idl.Uint32: "uint32", idl.Int64: "int64", idl.Uint64: "uint64",
	idl.Float: "float32", idl.Double: "float64",
}

// header holds what the header of every output file says.
type header struct {
	Source     string // IDL path, relative to the output directory
	SourceBase string // its base name
	Version    string // "" without version markers
	GenVersion int
}

func newHeader(f *idl.File, opts Options) header {
	src := opts.Source
	if src == "" {
		src = f.Name
	}
	src = strings.ReplaceAll(src, "\\", "/")
	h := header{Source: src, SourceBase: path.Base(src), GenVersion: GenVersion}
	if opts.VersionMarkers {
		h.Version = Version
	}
	return h
}

func execute(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("template %s: %v", name, err)
	}
	return b.Bytes(), nil
}

// decls returns the declarations of f of type T, in dependency order.
func decls[T any](f *idl.File) []T {
	var out []T
	for _, d := range f.Decls {
		if x, ok := d.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// Languages lists the languages Generate knows, in the order iox2gen
// writes them.
var Languages = []string{"go", "c", "rust"}

// Outputs lists the outputs that iox2gen writes for language lang, each
// a file: "c" is the payload header ("c", FILE.iox2.h, which needs no
// library) and the typed API of the C library ("c-api", FILE.iox2.api.h);
// every other language is one file of its own name.
func Outputs(lang string) []string {
	if lang == "c" {
		return []string{"c", "c-api"}
	}
	return []string{lang}
}

// OutputName returns the name of the file generated as output out (a
// language, or an entry of Outputs) for the IDL file input: robot.idl
// gives robot.iox2.go, robot.iox2.h, robot.iox2.api.h and robot.iox2.rs.
func OutputName(input, out string) string {
	base := strings.TrimSuffix(path.Base(strings.ReplaceAll(input, "\\", "/")), ".idl")
	switch out {
	case "go":
		return base + ".iox2.go"
	case "c":
		return base + ".iox2.h"
	case "c-api":
		return base + ".iox2.api.h"
	case "rust":
		return base + ".iox2.rs"
	}
	return base + ".iox2." + out
}

// Generate returns the code for f as output out: "go", "c", "c-api" or
// "rust".
func Generate(f *idl.File, out string, opts Options) ([]byte, error) {
	switch out {
	case "go":
		return Go(f, opts)
	case "c":
		return C(f, opts)
	case "c-api":
		return CAPI(f, opts)
	case "rust":
		return Rust(f, opts)
	}
	return nil, fmt.Errorf("unknown language %q", out)
}

// SourcePath is the IDL path that iox2gen writes in the header of the
// files generated from input into outDir: the path of input relative to
// outDir, with forward slashes. It does not depend on the working
// directory, so that `iox2gen -out gen/fleet idl/fleet.idl` run from the
// module root and `iox2gen -out . ../../idl/fleet.idl` run in gen/fleet
// write the same bytes, and nothing absolute gets into the output. When
// no relative path exists (another volume on Windows), it is the base
// name of input.
func SourcePath(input, outDir string) string {
	rel := filepath.Base(input)
	absIn, err1 := filepath.Abs(input)
	absOut, err2 := filepath.Abs(outDir)
	if err1 == nil && err2 == nil {
		if r, err := filepath.Rel(absOut, absIn); err == nil {
			rel = r
		}
	}
	return filepath.ToSlash(rel)
}
