package templates

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iox2go/iox2go/idl"
)

// layoutType is a struct-like declaration of the model, with the names
// that each language gives it.
type layoutType struct {
	name   string // the canonical name printed: robot::Imu, string<5>, ...
	goName string
	cName  string
	rust   string // path from the test program's crate root
	size   uint64
	align  uint64
	fields []*idl.Field
}

func layoutTypes(f *idl.File) []layoutType {
	var out []layoutType
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *idl.Struct:
			out = append(out, layoutType{d.ScopedName(), d.GoName, cNamed(&d.Named), "gen::" + rustPath(nil, d.Scope, d.Name), d.Size, d.Align, d.Fields})
		case *idl.StringType:
			t := &idl.Type{Kind: idl.KindString, Str: d}
			out = append(out, layoutType{t.String(), d.GoName, cStringName(d), "gen::" + rustStringName(d), d.Size, d.Align, d.Fields})
		case *idl.SequenceType:
			t := &idl.Type{Kind: idl.KindSequence, Seq: d}
			out = append(out, layoutType{t.String(), d.GoName, cSeqName(d), "gen::" + rustSeqName(d), d.Size, d.Align, d.Fields})
		}
	}
	return out
}

// TestCrossLanguage compiles and runs a C, a Rust and a Go program that
// print the size and alignment of every struct, string and sequence type
// of the cross golden case, and the offset and size of every field, and
// requires the three outputs to be identical to each other and to the
// layout the IDL checker computed.
func TestCrossLanguage(t *testing.T) {
	var c goldenCase
	for _, x := range goldenCases(t) {
		if x.name == "cross" {
			c = x
		}
	}
	if c.file == nil {
		t.Fatal("no golden case cross")
	}
	types := layoutTypes(c.file)

	var want strings.Builder
	for _, lt := range types {
		fmt.Fprintf(&want, "%s %d %d\n", lt.name, lt.size, lt.align)
		for _, f := range lt.fields {
			if !f.Pad {
				fmt.Fprintf(&want, "%s.%s %d %d\n", lt.name, f.Name, f.Offset, f.Size)
			}
		}
	}

	outputs := map[string]string{}
	t.Run("c", func(t *testing.T) {
		gcc := need(t, "gcc")
		dir := t.TempDir()
		h, err := C(c.file, goldenOptions(c))
		if err != nil {
			t.Fatal(err)
		}
		var p strings.Builder
		p.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include \"cross.iox2.h\"\n\nint main(void) {\n")
		for _, lt := range types {
			fmt.Fprintf(&p, "\tprintf(\"%%s %%zu %%zu\\n\", %q, sizeof(%s), _Alignof(%s));\n", lt.name, lt.cName, lt.cName)
			for _, f := range cFields(lt.fields) {
				if !f.Pad {
					fmt.Fprintf(&p, "\tprintf(\"%%s.%%s %%zu %%zu\\n\", %q, %q, offsetof(%s, %s), sizeof(((%s *)0)->%s));\n",
						lt.name, strings.TrimSuffix(f.Name, "_"), lt.cName, f.Name, lt.cName, f.Name)
				}
			}
		}
		p.WriteString("\treturn 0;\n}\n")
		write(t, dir, "cross.iox2.h", string(h))
		write(t, dir, "main.c", p.String())
		run(t, dir, nil, gcc, "-std=c11", "-Wall", "-Werror", "-o", "layout", "main.c")
		outputs["C"] = run(t, dir, nil, filepath.Join(dir, "layout"))
	})
	t.Run("rust", func(t *testing.T) {
		rustc := need(t, "rustc")
		dir := t.TempDir()
		rs, err := Rust(c.file, goldenOptions(c))
		if err != nil {
			t.Fatal(err)
		}
		var p strings.Builder
		p.WriteString("#[allow(dead_code)]\nmod gen {\n    include!(\"cross.iox2.rs\");\n}\n\n")
		p.WriteString("fn size_of_field<T, F>(_: fn(&T) -> &F) -> usize {\n    core::mem::size_of::<F>()\n}\n\nfn main() {\n")
		for _, lt := range types {
			fmt.Fprintf(&p, "    println!(\"{} {} {}\", %q, core::mem::size_of::<%s>(), core::mem::align_of::<%s>());\n", lt.name, lt.rust, lt.rust)
			for _, f := range lt.fields {
				if !f.Pad {
					n := rustIdent(f.Name)
					fmt.Fprintf(&p, "    println!(\"{}.{} {} {}\", %q, %q, core::mem::offset_of!(%s, %s), size_of_field(|s: &%s| &s.%s));\n",
						lt.name, f.Name, lt.rust, n, lt.rust, n)
				}
			}
		}
		p.WriteString("}\n")
		write(t, dir, "cross.iox2.rs", string(rs))
		write(t, dir, "main.rs", p.String())
		run(t, dir, nil, rustc, "--edition", "2021", "-D", "warnings", "-o", "layout", "main.rs")
		outputs["Rust"] = run(t, dir, nil, filepath.Join(dir, "layout"))
	})
	t.Run("go", func(t *testing.T) {
		goTool := need(t, "go")
		dir := tempPackageDir(t)
		src, err := Go(c.file, Options{Package: "main", Source: "cross.idl"})
		if err != nil {
			t.Fatal(err)
		}
		var p strings.Builder
		p.WriteString("package main\n\nimport (\n\t\"fmt\"\n\t\"reflect\"\n)\n\n")
		p.WriteString("func show(t reflect.Type, name string, fields ...string) {\n")
		p.WriteString("\tfmt.Printf(\"%s %d %d\\n\", name, t.Size(), t.Align())\n")
		p.WriteString("\tfor i := 0; i < len(fields); i += 2 {\n\t\tf, ok := t.FieldByName(fields[i])\n")
		p.WriteString("\t\tif !ok {\n\t\t\tpanic(name + \": no field \" + fields[i])\n\t\t}\n")
		p.WriteString("\t\tfmt.Printf(\"%s.%s %d %d\\n\", name, fields[i+1], f.Offset, f.Type.Size())\n\t}\n}\n\nfunc main() {\n")
		for _, lt := range types {
			fmt.Fprintf(&p, "\tshow(reflect.TypeFor[%s](), %q", lt.goName, lt.name)
			for _, f := range lt.fields {
				if !f.Pad {
					fmt.Fprintf(&p, ", %q, %q", f.GoName, f.Name)
				}
			}
			p.WriteString(")\n")
		}
		p.WriteString("}\n")
		write(t, dir, "cross.iox2.go", string(src))
		write(t, dir, "main.go", p.String())
		outputs["Go"] = run(t, ".", nil, goTool, "run", "./"+filepath.ToSlash(dir))
	})
	for lang, got := range outputs {
		if d := cmp.Diff(want.String(), got); d != "" {
			t.Errorf("%s layout differs from the IDL checker's (-checker +%s):\n%s", lang, lang, d)
		}
	}
	if len(outputs) < 3 {
		t.Logf("compared %d languages with the checker (a missing compiler skips its language)", len(outputs))
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
}
