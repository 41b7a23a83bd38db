package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/iox2go/iox2go/idl"
	"github.com/iox2go/iox2go/templates"
)

// Config is what the command line asks for.
type Config struct {
	Out       string   // output directory
	Package   string   // Go package name; "" for the default
	Langs     []string // languages to generate
	Check     bool     // compare with the files on disk instead of writing
	AllErrors bool     // report every IDL error
	Files     []string // input IDL files
}

// Run generates the files cfg asks for, printing IDL errors to stderr (one
// per line, file:line:col: message) and other failures through log. It
// returns the exit status: 0, or 1 after any error or stale file.
func Run(cfg Config, stderr io.Writer) int {
	var files []*idl.File
	failed := false
	for _, in := range cfg.Files {
		f, err := idl.ParseFile(in, &idl.Options{AllErrors: cfg.AllErrors})
		if err != nil {
			report(stderr, err)
			failed = true
			continue
		}
		files = append(files, f)
	}
	if failed {
		return 1
	}
	pkg := cfg.Package
	if pkg == "" {
		pkg = files[0].Package
		if pkg == "" {
			log.Printf("%s declares no module: give the Go package name with -package", files[0].Name)
			return 1
		}
	}
	if slices.Contains(cfg.Langs, "go") && !templates.ValidPackageName(pkg) {
		from := ""
		if cfg.Package == "" {
			from = fmt.Sprintf(" (the first module of %s)", files[0].Name)
		}
		log.Printf("%q%s is not a valid Go package name: use -package to choose another name", pkg, from)
		return 1
	}
	if err := checkInputs(files); err != nil {
		report(stderr, err)
		return 1
	}

	if !cfg.Check {
		if err := os.MkdirAll(cfg.Out, 0o777); err != nil {
			log.Print(err)
			return 1
		}
	}
	status := 0
	for _, f := range files {
		opts := templates.Options{Package: pkg, Source: templates.SourcePath(f.Name, cfg.Out), VersionMarkers: true}
		var outs []string
		for _, lang := range cfg.Langs {
			outs = append(outs, templates.Outputs(lang)...)
		}
		for _, lang := range outs {
			out, err := templates.Generate(f, lang, opts)
			if err != nil {
				log.Print(err)
				return 1
			}
			name := filepath.Join(cfg.Out, templates.OutputName(f.Name, lang))
			if cfg.Check {
				old, err := os.ReadFile(name)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					log.Printf("%s is missing: run go generate", name)
					status = 1
				case err != nil:
					log.Print(err)
					status = 1
				case !bytes.Equal(old, out):
					line, want, have := firstDiff(out, old)
					fmt.Fprintf(stderr, "%s:%d: stale: want %s, have %s (run go generate)\n", name, line, want, have)
					status = 1
				}
				continue
			}
			if err := os.WriteFile(name, out, 0o666); err != nil {
				log.Print(err)
				return 1
			}
		}
	}
	return status
}

// firstDiff returns the number of the first line where have differs
// from want, and that line of each, quoted: trimmed, unless they differ
// only in white space, and cut after 100 characters; "end of file" when
// one of them has no such line.
func firstDiff(want, have []byte) (line int, wantLine, haveLine string) {
	w := bytes.SplitAfter(want, []byte("\n"))
	h := bytes.SplitAfter(have, []byte("\n"))
	i := 0
	for i < len(w) && i < len(h) && bytes.Equal(w[i], h[i]) {
		i++
	}
	at := func(lines [][]byte) ([]byte, bool) {
		if i >= len(lines) || (i == len(lines)-1 && len(lines[i]) == 0) {
			return nil, false
		}
		return lines[i], true
	}
	wl, wok := at(w)
	hl, hok := at(h)
	trim := !wok || !hok || !bytes.Equal(bytes.TrimSpace(wl), bytes.TrimSpace(hl))
	show := func(l []byte, ok bool) string {
		if !ok {
			return "end of file"
		}
		if trim {
			l = bytes.TrimSpace(l)
		}
		s := string(l)
		if r := []rune(s); len(r) > 100 {
			s = string(r[:100]) + "..."
		}
		return strconv.Quote(s)
	}
	return i + 1, show(wl, wok), show(hl, hok)
}

// report prints IDL errors one per line, and any other error through log.
func report(w io.Writer, err error) {
	var list idl.ErrorList
	if errors.As(err, &list) {
		idl.PrintErrors(w, list)
		return
	}
	log.Print(err)
}

// checkInputs rejects several inputs that would write the same files, or
// whose Go code would declare the same name in one package.
func checkInputs(files []*idl.File) error {
	var errs idl.ErrorList
	outputs := map[string]string{}
	var decls []idl.GoDecl
	for _, f := range files {
		out := templates.OutputName(f.Name, "go")
		if prev, ok := outputs[out]; ok {
			return fmt.Errorf("%s and %s would both generate %s", prev, f.Name, out)
		}
		outputs[out] = f.Name
		decls = append(decls, f.GoDecls()...)
	}
	if len(files) > 1 {
		for _, e := range idl.GoNameClashes(decls) {
			errs.Add(e.Pos, e.Msg+" (generate the files into different packages)")
		}
	}
	return errs.Err()
}
