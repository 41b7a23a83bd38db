package idl

import (
	"fmt"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/iox2go/iox2go/idl/internal/ast"
)

// MaxNesting is how deeply declarations, types and expressions may nest:
// modules, the braces of struct, enum and service bodies, template
// arguments (sequence<sequence<...>>, string<...>, map<...>),
// parentheses, array brackets and chains of unary operators all count,
// together. Parse rejects deeper input with "nesting deeper than 64
// levels" at the token that opens level 65. The parser, the checker and
// the emitters recurse on nesting, and the generated code grows with its
// square, so without a limit a small file can take minutes and write
// megabytes; no real IDL file comes near 64 levels.
const MaxNesting = 64

// nestingError is the message of a nesting deeper than MaxNesting.
var nestingError = fmt.Sprintf("nesting deeper than %d levels", MaxNesting)

// tooDeep scans the tokens of src and returns the position of the first
// token that opens a level of nesting deeper than MaxNesting. It is a
// conservative count made before parsing: an opening '{', '(', '[' or a
// '<' after sequence, string, wstring or map pushes a level, the matching
// closer pops it, and each operator of a run of unary operators
// (- + ~) adds a level while the run lasts. It gives up (ok false) at
// the first lexical error, which the parser reports.
func tooDeep(filename string, src []byte) (pos lexer.Position, ok bool) {
	lex, err := ast.Lexer.LexString(filename, string(src))
	if err != nil {
		return pos, false
	}
	var stack []string // the closers of the open levels
	unary := 0         // length of the current run of unary operators
	prev := ""         // the previous significant token's value
	for {
		tok, err := lex.Next()
		if err != nil || tok.EOF() {
			return pos, false
		}
		if tok.Type == commentToken || tok.Type == whitespaceToken {
			continue
		}
		isOp := false
		opens := false
		switch v := tok.Value; {
		case tok.Type == ast.StringToken || tok.Type == ast.IdentToken:
		case v == "{":
			stack, opens = append(stack, "}"), true
		case v == "(":
			stack, opens = append(stack, ")"), true
		case v == "[":
			stack, opens = append(stack, "]"), true
		case v == "<" && (prev == "sequence" || prev == "string" || prev == "wstring" || prev == "map"):
			stack, opens = append(stack, ">"), true
		case v == "}" || v == ")" || v == "]" || v == ">":
			if n := len(stack); n > 0 && stack[n-1] == v {
				stack = stack[:n-1]
			}
		case v == "-" || v == "+" || v == "~":
			isOp = true
		}
		if isOp {
			unary++
		} else {
			unary = 0
		}
		if (opens || isOp) && len(stack)+unary > MaxNesting {
			return tok.Pos, true
		}
		if tok.Type == ast.StringToken {
			prev = ""
		} else {
			prev = tok.Value
		}
	}
}

var (
	commentToken    = ast.Lexer.Symbols()["Comment"]
	whitespaceToken = ast.Lexer.Symbols()["Whitespace"]
)
