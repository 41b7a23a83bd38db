package templates

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iox2go/iox2go/idl"
)

// FuzzGenerate checks that every IDL file the checker accepts generates
// Go that go/format accepts, and C and Rust, without error or panic.
func FuzzGenerate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*", "*.idl"))
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := idl.Parse("fuzz.idl", src, nil)
		if err != nil {
			return
		}
		for _, lang := range allOutputs() {
			if _, err := Generate(file, lang, Options{Package: "p", Source: "fuzz.idl"}); err != nil {
				t.Fatalf("%s: %v", lang, err)
			}
		}
	})
}
