// Package gentest checks that the generated code committed in an
// examples/gen package is what iox2gen generates now.
package gentest

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iox2go/iox2go/idl"
	"github.com/iox2go/iox2go/templates"
)

const generator = "github.com/iox2go/iox2go/cmd/iox2gen"

// update makes CheckUpToDate rewrite stale files (go test ./... -update),
// as go generate would.
var update = flag.Bool("update", false, "rewrite the generated files")

// CheckUpToDate regenerates, in memory, the files of every iox2gen
// go:generate directive in doc.go of the current directory (the package
// under test) and fails with a diff when a committed file differs. With
// -update it writes the files instead.
func CheckUpToDate(t *testing.T) {
	t.Helper()
	directives := goGenerateArgs(t, "doc.go")
	if len(directives) == 0 {
		t.Fatalf("doc.go has no //go:generate line that runs %s", generator)
	}
	for _, args := range directives {
		// The flags of cmd/iox2gen that change what it writes. A flag
		// added there and used in doc.go fails here until it is added.
		fs := flag.NewFlagSet("iox2gen", flag.ContinueOnError)
		out := fs.String("out", ".", "")
		pkg := fs.String("package", "", "")
		langs := fs.String("lang", "go,c,rust", "")
		fs.Bool("all-errors", false, "")
		if err := fs.Parse(args); err != nil {
			t.Fatalf("go:generate %s: %v", strings.Join(args, " "), err)
		}
		var files []*idl.File
		for _, in := range fs.Args() {
			f, err := idl.ParseFile(in, nil)
			if err != nil {
				t.Fatalf("%v", err)
			}
			files = append(files, f)
		}
		if len(files) == 0 {
			t.Fatalf("go:generate %s: no input file", strings.Join(args, " "))
		}
		if *pkg == "" {
			*pkg = files[0].Package
		}
		for _, f := range files {
			opts := templates.Options{Package: *pkg, Source: templates.SourcePath(f.Name, *out), VersionMarkers: true}
			var outs []string
			for _, lang := range strings.Split(*langs, ",") {
				outs = append(outs, templates.Outputs(lang)...)
			}
			for _, lang := range outs {
				want, err := templates.Generate(f, lang, opts)
				if err != nil {
					t.Fatal(err)
				}
				name := filepath.Join(*out, templates.OutputName(f.Name, lang))
				if *update {
					if err := os.WriteFile(name, want, 0o666); err != nil {
						t.Fatal(err)
					}
				}
				got, err := os.ReadFile(name)
				if err != nil {
					t.Errorf("stale generated files: run make generate\n%v", err)
					continue
				}
				if d := cmp.Diff(string(got), string(want)); d != "" {
					t.Errorf("stale generated files: run make generate\n%s differs from what iox2gen generates (-committed +generated):\n%s", name, d)
				}
			}
		}
	}
}

// goGenerateArgs returns the arguments of the iox2gen go:generate
// directives in file.
func goGenerateArgs(t *testing.T, file string) [][]string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "//go:generate ")
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		for i, w := range fields {
			if w == generator || strings.HasSuffix(w, "/cmd/iox2gen") || w == "iox2gen" {
				out = append(out, fields[i+1:])
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
