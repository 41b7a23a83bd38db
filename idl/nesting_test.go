package idl

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNesting checks the nesting limit: input nested MaxNesting levels
// deep is accepted, one level more is an error at the token that opens
// it, and very deep input is rejected at once.
func TestNesting(t *testing.T) {
	rep := strings.Repeat
	modules := func(n int, inner string) string { return rep("module a { ", n) + inner + rep("}; ", n) }
	// seqs is a member of n nested sequence types.
	seqs := func(n int) string { return rep("sequence<", n) + "int8" + rep(", 1>", n) + " x;" }
	for _, tc := range []struct {
		name, src string
		err       string // "" for no error, else "line:col: message"
	}{{
		name: "modules at the limit",
		src:  modules(MaxNesting-1, "struct S { int8 x; };"),
	}, {
		name: "modules one level over the limit",
		src:  modules(MaxNesting, "struct S { int8 x; };"),
		err:  fmt.Sprintf("1:%d: nesting deeper than 64 levels", len("module a { ")*MaxNesting+len("struct S {")),
	}, {
		name: "module nesting stops at the first module too deep",
		src:  modules(MaxNesting+1, ""),
		err:  fmt.Sprintf("1:%d: nesting deeper than 64 levels", len("module a { ")*MaxNesting+10),
	}, {
		name: "sequences at the limit",
		src:  "module m { struct S { " + seqs(MaxNesting-2) + " }; };",
	}, {
		name: "sequences one level over the limit",
		src:  "module m { struct S { " + seqs(MaxNesting-1) + " }; };",
		err:  fmt.Sprintf("1:%d: nesting deeper than 64 levels", len("module m { struct S { ")+len("sequence<")*(MaxNesting-2)+9),
	}, {
		name: "a string bound counts",
		src:  "module m { struct S { " + rep("sequence<", MaxNesting-2) + "string<3" + rep(">, 1", MaxNesting-2) + "> x; }; };",
		err:  fmt.Sprintf("1:%d: nesting deeper than 64 levels", len("module m { struct S { ")+len("sequence<")*(MaxNesting-2)+len("string<")),
	}, {
		name: "parentheses at the limit",
		src:  "module m { const int32 C = " + rep("(", MaxNesting-1) + "1" + rep(")", MaxNesting-1) + "; };",
	}, {
		name: "parentheses one level over the limit",
		src:  "module m { const int32 C = " + rep("(", MaxNesting) + "1" + rep(")", MaxNesting) + "; };",
		err:  fmt.Sprintf("1:%d: nesting deeper than 64 levels", len("module m { const int32 C = ")+MaxNesting),
	}, {
		name: "unary operators one level over the limit",
		src:  "module m { const int32 C = " + rep("-", MaxNesting) + "1; };",
		err:  fmt.Sprintf("1:%d: nesting deeper than 64 levels", len("module m { const int32 C = ")+MaxNesting),
	}, {
		name: "levels are counted, not the total of nested declarations",
		src:  many(1000, "module a { struct S%d { sequence<sequence<int8, 1>, 1> x; }; }; "),
	}, {
		name: "a syntax error before the nesting is reported instead",
		src:  "module m { struct S { int8 x }; " + modules(MaxNesting+1, ""),
		err:  `1:30: expected ";", found "}"`,
	}, {
		name: "a syntax error after the nesting is not reached",
		src:  modules(MaxNesting+1, "") + "struct S { int8 x };",
		err:  fmt.Sprintf("1:%d: nesting deeper than 64 levels", len("module a { ")*MaxNesting+10),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.idl", []byte(tc.src), nil)
			got := ""
			if err != nil {
				var list ErrorList
				if !errors.As(err, &list) {
					t.Fatalf("Parse returned %T: %v", err, err)
				}
				got = strings.TrimPrefix(list[0].Error(), "t.idl:")
				if len(list) != 1 {
					t.Errorf("%d errors, want 1: %v", len(list), list)
				}
			}
			if got != tc.err {
				t.Errorf("error %q, want %q", got, tc.err)
			}
		})
	}
}

// TestNestingIsFast checks that input nested far beyond the limit is
// rejected at once, not after the time that parsing it would take.
func TestNestingIsFast(t *testing.T) {
	rep := strings.Repeat
	for name, src := range map[string]string{
		"modules":     rep("module a { ", 100000) + rep("}; ", 100000),
		"sequences":   "module m { struct S { " + rep("sequence<", 100000) + "int8" + rep(", 1>", 100000) + " x; }; };",
		"parentheses": "module m { const int32 C = " + rep("(", 100000) + "1" + rep(")", 100000) + "; };",
	} {
		start := time.Now()
		_, err := Parse("t.idl", []byte(src), nil)
		if err == nil || !strings.Contains(err.Error(), "nesting deeper than") {
			t.Errorf("%s: err = %v", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: Parse took %v", name, d)
		}
	}
}

// many repeats format, formatted with 0 to n-1.
func many(n int, format string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}
