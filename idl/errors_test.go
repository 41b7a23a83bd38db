package idl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestErrors checks the errors reported for each file in testdata/errors.
//
// A file states the errors it expects in comments on the offending line:
// // ERROR "regexp" (or /* ERROR "regexp" */; a line may hold several).
// The regexp, a Go string literal (quoted or raw), is matched unanchored against
// ":COL: MESSAGE", the column and message of an error reported on that
// line, so ERROR ":7: undefined: Foo" pins the column too. Every reported
// error must match exactly one annotation of its line, and every
// annotation must match an error. Files are checked with AllErrors.
func TestErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.idl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error tests: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".idl"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(t, src)
			f, err := Parse(file, src, &Options{AllErrors: true})
			var got ErrorList
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("Parse returned %T, want ErrorList: %v", err, err)
			}
			if err == nil && f == nil {
				t.Fatal("Parse returned neither a file nor an error")
			}
			for _, e := range got {
				if e.Pos.Filename != file {
					t.Errorf("%v: file name %q, want %q", e, e.Pos.Filename, file)
				}
				s := fmt.Sprintf(":%d: %s", e.Pos.Column, e.Msg)
				var matches []*annotation
				for _, a := range want[e.Pos.Line] {
					if a.re.MatchString(s) {
						matches = append(matches, a)
					}
				}
				switch len(matches) {
				case 0:
					t.Errorf("unexpected error: %v", e)
				case 1:
					matches[0].matched++
				default:
					t.Errorf("error %v matches %d annotations of its line", e, len(matches))
				}
			}
			for line, as := range want {
				for _, a := range as {
					if a.matched == 0 {
						t.Errorf("%s:%d: no error matches ERROR %q", file, line, a.re)
					} else if a.matched > 1 {
						t.Errorf("%s:%d: %d errors match ERROR %q", file, line, a.matched, a.re)
					}
				}
			}
		})
	}
}

type annotation struct {
	re      *regexp.Regexp
	matched int
}

var annotationRE = regexp.MustCompile("ERROR (\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`)")

// expectedErrors returns the ERROR annotations of src by line.
func expectedErrors(t *testing.T, src []byte) map[int][]*annotation {
	want := map[int][]*annotation{}
	for i, line := range strings.Split(string(src), "\n") {
		for _, m := range annotationRE.FindAllStringSubmatch(line, -1) {
			s, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatalf("line %d: bad ERROR string %s: %v", i+1, m[1], err)
			}
			re, err := regexp.Compile(s)
			if err != nil {
				t.Fatalf("line %d: bad ERROR regexp: %v", i+1, err)
			}
			want[i+1] = append(want[i+1], &annotation{re: re})
		}
	}
	return want
}
