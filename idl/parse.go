package idl

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/iox2go/iox2go/idl/internal/ast"
)

// Options configure Parse.
type Options struct {
	// AllErrors reports every error. Without it, Parse stops listing
	// errors after the first 10 and ends the list with "too many errors".
	AllErrors bool
}

// maxErrors is how many errors Parse reports without Options.AllErrors.
const maxErrors = 10

// Parse parses and checks the IDL source src. filename is used in
// positions (and kept in File.Name). The error, if any, is an ErrorList
// sorted by position.
func Parse(filename string, src []byte, opts *Options) (*File, error) {
	if opts == nil {
		opts = &Options{}
	}
	if pos, deep := tooDeep(filename, src); deep {
		// A syntax error before the token that nests too deeply is
		// the first error of the file: parse up to that token to find
		// it (quickly, as the part before it nests less).
		var l ErrorList
		if _, err := ast.Parse(filename, src[:pos.Offset]); err != nil {
			if epos, msg := syntaxError(filename, err); epos.Offset < pos.Offset {
				l.Add(epos, msg)
				return nil, l
			}
		}
		l.Add(pos, nestingError)
		return nil, l
	}
	tree, err := ast.Parse(filename, src)
	if err != nil {
		var l ErrorList
		pos, msg := syntaxError(filename, err)
		l.Add(pos, msg)
		return nil, l
	}
	c := newChecker(filename)
	c.check(tree)
	c.errs.Sort()
	l := dedupe(c.errs)
	if len(l) > maxErrors && !opts.AllErrors {
		l = append(l[:maxErrors:maxErrors], &Error{Pos: l[maxErrors].Pos, Msg: "too many errors"})
	}
	if len(l) > 0 {
		return nil, l
	}
	return c.file, nil
}

// ParseFile reads the file filename and parses it with Parse.
func ParseFile(filename string, opts *Options) (*File, error) {
	src, err := os.ReadFile(filename)
	if err != nil {
		return nil, err
	}
	return Parse(filename, src, opts)
}

// Grammar returns the grammar of the IDL in participle's EBNF.
// PrimitiveType and Unsupported are parsed by hand (see docs/IDL.md).
func Grammar() string { return ast.Parser.String() }

func dedupe(l ErrorList) ErrorList {
	out := l[:0]
	for i, e := range l {
		if i > 0 && e.Pos == l[i-1].Pos && e.Msg == l[i-1].Msg {
			continue
		}
		out = append(out, e)
	}
	return out
}

var expectedRE = regexp.MustCompile(`\(expected (.*)\)$`)

// syntaxError turns a participle or lexer error into a position and a
// message in the "expected X, found Y" style.
func syntaxError(filename string, err error) (lexer.Position, string) {
	var perr participle.Error
	if !errors.As(err, &perr) {
		return lexer.Position{Filename: filename}, err.Error()
	}
	pos, msg := perr.Position(), perr.Message()
	if pos.Filename == "" {
		pos.Filename = filename
	}
	var unexpected *participle.UnexpectedTokenError
	switch {
	case errors.As(err, &unexpected):
		tok := unexpected.Unexpected
		switch tok.Type {
		case ast.BadCommentToken:
			return pos, "comment not terminated"
		case ast.BadStringToken:
			return pos, "string literal not terminated"
		case ast.DirectiveToken:
			word, _, _ := strings.Cut(tok.Value, " ")
			return pos, "preprocessor directives are not supported, found " + strconv.Quote(word)
		}
		if m := expectedRE.FindStringSubmatch(msg); m != nil {
			return pos, "expected " + humanize(m[1]) + ", found " + ast.Describe(tok)
		}
		return pos, "unexpected " + ast.Describe(tok)
	case strings.HasPrefix(strings.TrimPrefix(msg, "lexer: "), "invalid input text "):
		text, _ := strconv.Unquote(strings.TrimPrefix(strings.TrimPrefix(msg, "lexer: "), "invalid input text "))
		r, _ := utf8First(text)
		return pos, "invalid character " + strconv.QuoteRune(r)
	case strings.HasPrefix(msg, "invalid quoted string "):
		return pos, "invalid escape sequence in string literal"
	}
	return pos, msg
}

func utf8First(s string) (rune, bool) {
	for _, r := range s {
		return r, true
	}
	return 0, false
}

// humanize turns the EBNF that participle says it expected into words:
// `Expr "]"` -> "expression", `Ident` -> "identifier", `Member* "}"` ->
// `member or "}"`.
func humanize(ebnf string) string {
	terms := splitTerms(ebnf)
	var alts []string
	for _, t := range terms {
		optional := strings.HasSuffix(t, "*") || strings.HasSuffix(t, "?")
		t = strings.TrimRight(t, "*?+")
		if strings.HasPrefix(t, "(") && strings.HasSuffix(t, ")") {
			t = humanize(t[1 : len(t)-1])
		} else if w, ok := termWords[t]; ok {
			t = w
		}
		alts = append(alts, t)
		if !optional {
			break
		}
	}
	return strings.Join(alts, " or ")
}

var termWords = map[string]string{
	"Expr":             "expression",
	"Unary":            "expression",
	"Primary":          "expression",
	"Ident":            "identifier",
	"<ident>":          "identifier",
	"Declarator":       "identifier",
	"Enumerator":       "identifier",
	"TypeSpec":         "type",
	"StringLit":        "string",
	"<string>":         "string",
	"Member":           "member",
	"Definition":       "declaration",
	"Decl":             "declaration",
	"Pattern":          "publish_subscribe, request_response or event",
	"Annotation":       "annotation",
	"AnnotationArgs":   `"("`,
	"ArrayDim":         `"["`,
	"BinaryOp":         "operator",
	"StructBody":       `"{"`,
	"ScopedName":       "name",
	"NamedType":        "type",
	"PrimitiveType":    "type",
	"PublishSubscribe": "publish_subscribe",
}

// splitTerms splits an EBNF sequence at top-level spaces.
func splitTerms(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ' ' && depth == 0:
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
