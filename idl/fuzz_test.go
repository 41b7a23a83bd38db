package idl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that any input gives either a model or an ErrorList
// whose errors all have a position, and never panics.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../examples/idl/*.idl", "testdata/errors/*.idl"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
	f.Add([]byte(`module m { @bit_bound(16) enum E { A, @value(9) B }; typedef E Es[2];
		struct S { Es e; string<3> s[2]; sequence<sequence<int8, 2>, 3> q; };
		@history_size(1) service "m/s" { publish_subscribe S; }; };`))
	// Nesting beyond MaxNesting, which Parse rejects before parsing.
	f.Add([]byte(strings.Repeat("module a { ", MaxNesting+1) + strings.Repeat("}; ", MaxNesting+1)))
	f.Add([]byte("module m { struct S { " + strings.Repeat("sequence<", MaxNesting) + "int8" + strings.Repeat(", 1>", MaxNesting) + " x; }; };"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.idl", src, &Options{AllErrors: true})
		if err == nil {
			if file == nil {
				t.Fatal("no file and no error")
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
		}
		for _, e := range list {
			if e.Pos.Filename != "fuzz.idl" || e.Pos.Line < 1 || e.Pos.Column < 1 {
				t.Fatalf("error without a position: %#v", e)
			}
		}
	})
}
