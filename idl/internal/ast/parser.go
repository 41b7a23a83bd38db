package ast

import (
	"strconv"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Lexer splits IDL source into tokens. Rules are tried in order: comments
// before the operators, "::" and the two-character operators before the
// one-character ones. BadComment, BadString and Directive never appear in
// the grammar; they exist so that an unterminated comment or string, or a
// preprocessor line, is reported with a precise message.
var Lexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `//[^\n]*|/\*([^*]|\*+[^*/])*\*+/`},
	{Name: "BadComment", Pattern: `/\*`},
	{Name: "Whitespace", Pattern: `[ \t\r\n\f\v]+`},
	{Name: "Directive", Pattern: `#[^\n]*`},
	{Name: "String", Pattern: `"(?:[^"\\\n]|\\.)*"`},
	{Name: "BadString", Pattern: `"`},
	{Name: "Float", Pattern: `(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+`},
	{Name: "Int", Pattern: `0[xX][0-9a-fA-F]+|[0-9]+`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Punct", Pattern: `::|<<|>>|->|[{}()\[\];,<>=@+\-*/%&|^~:]`},
})

var symbols = Lexer.Symbols()

// Token types that the error messages of package idl single out.
var (
	IdentToken      = symbols["Ident"]
	StringToken     = symbols["String"]
	BadCommentToken = symbols["BadComment"]
	BadStringToken  = symbols["BadString"]
	DirectiveToken  = symbols["Directive"]
	EOFToken        = lexer.EOF
)

// Parser is the IDL parser. It is safe for concurrent use.
//
// The lookahead is 0: a branch that consumed a token and then failed is an
// error at the token where it failed. With participle's default of 1,
// `int8 x[;` was reported at "[" ("expected ;") instead of at ";"
// ("expected expression"), and with 2, at the start of the struct. The
// grammar is written so that every alternative and every optional part
// is decided by its first token, which is what a lookahead of 0 requires.
// The error-case tests in package idl lock the positions.
var Parser = build(0)

func build(lookahead int) *participle.Parser[File] {
	return participle.MustBuild[File](
		participle.UseLookahead(lookahead),
		participle.Lexer(Lexer),
		participle.Elide("Comment", "Whitespace"),
		participle.Map(unquote, "String"),
		participle.Union[Decl](&Module{}, &Struct{}, &Enum{}, &Typedef{}, &Const{}, &Service{}, &Unsupported{}),
		participle.Union[Pattern](&PublishSubscribe{}, &RequestResponse{}, &Event{}, &BadPattern{}),
		participle.Union[TypeSpec](&SequenceType{}, &StringType{}, &MapType{}, &PrimitiveType{}, &NamedType{}),
		participle.Union[Primary](&IntLit{}, &FloatLit{}, &StringLit{}, &BoolLit{}, &NameRef{}, &Paren{}),
	)
}

// unquote replaces a string literal by its value. Escapes are Go's (a
// superset of IDL's common ones); \xhh is a byte, as in IDL and C.
func unquote(t lexer.Token) (lexer.Token, error) {
	v, err := strconv.Unquote(t.Value)
	if err != nil {
		return t, participle.Errorf(t.Pos, "invalid escape sequence in string literal")
	}
	t.Value = v
	return t, nil
}

// Parse parses one IDL file. filename is used in positions only. The error,
// if any, is a participle.Error.
func Parse(filename string, src []byte) (*File, error) {
	return Parser.ParseBytes(filename, src)
}

// PrimitiveType is a built-in type keyword, possibly of several words
// ("unsigned long long"). It is parsed by hand because participle cannot
// express "one of these keyword sequences" without backtracking over
// "long" / "long long" / "long double". Name holds the words joined by one
// space. Keywords for types without a fixed size ("any", "wchar",
// "long double") are accepted here and rejected by the checker.
type PrimitiveType struct {
	Pos  lexer.Position
	Name string
}

var primitiveWords = map[string]bool{
	"boolean": true, "octet": true, "char": true, "wchar": true, "any": true,
	"int8": true, "int16": true, "int32": true, "int64": true,
	"uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"float": true, "double": true,
}

// Parse implements participle.Parseable.
func (p *PrimitiveType) Parse(lex *lexer.PeekingLexer) error {
	tok := lex.Peek()
	if tok.Type != IdentToken {
		return participle.NextMatch
	}
	word := func(w string) bool {
		if t := lex.Peek(); t.Type == IdentToken && t.Value == w {
			lex.Next()
			return true
		}
		return false
	}
	p.Pos = tok.Pos
	switch v := tok.Value; {
	case primitiveWords[v]:
		lex.Next()
		p.Name = v
	case v == "short":
		lex.Next()
		p.Name = "short"
	case v == "long":
		lex.Next()
		switch {
		case word("long"):
			p.Name = "long long"
		case word("double"):
			p.Name = "long double"
		default:
			p.Name = "long"
		}
	case v == "unsigned":
		lex.Next()
		switch {
		case word("short"):
			p.Name = "unsigned short"
		case word("long"):
			if word("long") {
				p.Name = "unsigned long long"
			} else {
				p.Name = "unsigned long"
			}
		default:
			t := lex.Peek()
			return participle.Errorf(t.Pos, `expected "short" or "long" after "unsigned", found %s`, Describe(*t))
		}
	default:
		return participle.NextMatch
	}
	return nil
}

// Unsupported is a declaration that the IDL subset does not support
// (union, interface, valuetype, exception, bitmask, bitset, native, ...).
// It is parsed by hand: Parse consumes the whole declaration up to its
// closing ';' (at brace depth 0), so that the checker can report it and
// the parser can go on with the rest of the file.
type Unsupported struct {
	Pos     lexer.Position
	Keyword string
}

// UnsupportedKeywords are the declaration keywords of OMG IDL 4 that
// introduce a declaration Unsupported swallows.
var UnsupportedKeywords = map[string]bool{
	"union": true, "interface": true, "abstract": true, "local": true,
	"valuetype": true, "custom": true, "eventtype": true, "exception": true,
	"bitmask": true, "bitset": true, "native": true, "component": true,
	"home": true, "porttype": true, "connector": true, "import": true,
	"typeid": true, "typeprefix": true, "template": true,
}

// Parse implements participle.Parseable.
func (u *Unsupported) Parse(lex *lexer.PeekingLexer) error {
	tok := lex.Peek()
	if tok.Type != IdentToken || !UnsupportedKeywords[tok.Value] {
		return participle.NextMatch
	}
	u.Pos, u.Keyword = tok.Pos, tok.Value
	lex.Next()
	depth := 0
	for {
		t := lex.Peek()
		if t.EOF() {
			return nil // the caller reports the missing ';'
		}
		switch t.Value {
		case "{":
			depth++
		case "}":
			if depth == 0 {
				return nil
			}
			depth--
		case ";":
			if depth == 0 {
				return nil
			}
		}
		lex.Next()
	}
}

// Describe renders a token for an error message: `"struct"`, `end of file`,
// `string "robot/imu"`.
func Describe(t lexer.Token) string {
	switch {
	case t.EOF():
		return "end of file"
	case t.Type == StringToken:
		return "string " + quote(t.Value)
	}
	return quote(t.Value)
}

func quote(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "..."
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// BadPattern turns an identifier where a messaging pattern belongs
// into an error that names the patterns (participle would only say that
// it expected "}"). It never produces a node.
type BadPattern struct{}

func (*BadPattern) pattern() {}

// Parse implements participle.Parseable.
func (*BadPattern) Parse(lex *lexer.PeekingLexer) error {
	if t := *lex.Peek(); t.Type == IdentToken {
		lex.Next() // consumed, so that this error wins over `expected "}"`
		return participle.Errorf(t.Pos, "expected publish_subscribe, request_response or event, found %s", Describe(t))
	}
	return participle.NextMatch
}
