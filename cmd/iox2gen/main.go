package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/iox2go/iox2go/templates"
)

func usage() {
	fmt.Fprintf(os.Stderr, "usage: iox2gen [-out DIR] [-package NAME] [-lang go,c,rust] [-check] [-all-errors] FILE.idl...\n\n")
	fmt.Fprintf(os.Stderr, "iox2gen writes FILE.iox2.go, FILE.iox2.h, FILE.iox2.api.h and FILE.iox2.rs for each FILE.idl.\n")
	fmt.Fprintf(os.Stderr, "See https://pkg.go.dev/github.com/iox2go/iox2go/cmd/iox2gen and docs/IDL.md.\n\nFlags:\n")
	flag.PrintDefaults()
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("iox2gen: ")
	var cfg Config
	flag.StringVar(&cfg.Out, "out", ".", "write the generated files to `DIR`")
	flag.StringVar(&cfg.Package, "package", "", "Go package `NAME` (default: the first top-level module, in lower case)")
	langs := flag.String("lang", "go,c,rust", "comma-separated `LIST` of languages to generate: go, c, rust")
	flag.BoolVar(&cfg.Check, "check", false, "write nothing; exit 1 if a generated file on disk is stale")
	flag.BoolVar(&cfg.AllErrors, "all-errors", false, "report all errors, not only the first 10")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Usage = usage
	flag.Parse()

	if *version {
		fmt.Printf("iox2gen %s (generated code version %d)\n", templates.Version, templates.GenVersion)
		return
	}
	var err error
	if cfg.Langs, err = parseLangs(*langs); err != nil {
		log.Print(err)
		flag.Usage()
		os.Exit(2)
	}
	cfg.Files = flag.Args()
	if len(cfg.Files) == 0 {
		log.Print("no input files")
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(Run(cfg, os.Stderr))
}

func parseLangs(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, ",") {
		l = strings.TrimSpace(l)
		switch l {
		case "go", "c", "rust":
		default:
			return nil, fmt.Errorf("-lang: unknown language %q (expected go, c or rust)", l)
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out, nil
}
