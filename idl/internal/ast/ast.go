// Package ast is the syntax tree of the iox2 IDL and its participle grammar.
//
// The grammar is deliberately permissive where a precise message needs
// semantic knowledge: it accepts unbounded strings and sequences, maps,
// unknown annotations, float literals and whole union or interface
// declarations, so that the checker (package idl) can reject each of them
// at its own position with a message that says why, and go on to report
// every other error in the file.
package ast

import (
	"github.com/alecthomas/participle/v2/lexer"
)

// File is a whole IDL file.
type File struct {
	Pos  lexer.Position
	Defs []*Definition `parser:"@@*"`
}

// Definition is one top-level or module-level declaration with the
// annotations that precede it.
type Definition struct {
	Pos         lexer.Position
	Annotations []*Annotation `parser:"@@*"`
	Decl        Decl          `parser:"@@ ';'"`
}

// Decl is a declaration: *Module, *Struct, *Enum, *Typedef, *Const,
// *Service or *Unsupported.
type Decl interface{ decl() }

func (*Module) decl()      {}
func (*Struct) decl()      {}
func (*Enum) decl()        {}
func (*Typedef) decl()     {}
func (*Const) decl()       {}
func (*Service) decl()     {}
func (*Unsupported) decl() {}

// Module is `module name { definitions };`. A module may be reopened.
type Module struct {
	Pos  lexer.Position
	Name *Ident        `parser:"'module' @@"`
	Defs []*Definition `parser:"'{' @@* '}'"`
}

// Struct is `struct name [: base] { members };` or, without a body, a
// forward declaration `struct name;` (which the checker rejects).
type Struct struct {
	Pos  lexer.Position
	Name *Ident      `parser:"'struct' @@"`
	Base *ScopedName `parser:"( ':' @@ )?"`
	Body *StructBody `parser:"@@?"`
}

// StructBody is the braced member list of a struct.
type StructBody struct {
	Pos     lexer.Position
	Members []*Member `parser:"'{' @@* '}'"`
}

// Member declares one or more fields of the same type.
type Member struct {
	Pos         lexer.Position
	Annotations []*Annotation `parser:"@@*"`
	Type        TypeSpec      `parser:"@@"`
	Declarators []*Declarator `parser:"@@ ( ',' @@ )* ';'"`
}

// Declarator is a name with optional array dimensions: `raw[2][4]`.
type Declarator struct {
	Pos  lexer.Position
	Name *Ident      `parser:"@@"`
	Dims []*ArrayDim `parser:"@@*"`
}

// ArrayDim is one `[size]` of a declarator.
type ArrayDim struct {
	Pos  lexer.Position
	Size *Expr `parser:"'[' @@ ']'"`
}

// Enum is `enum name { A, @value(7) B };`.
type Enum struct {
	Pos         lexer.Position
	Name        *Ident        `parser:"'enum' @@"`
	Enumerators []*Enumerator `parser:"'{' @@ ( ',' @@ )* '}'"`
}

// Enumerator is one member of an enum, with its annotations.
type Enumerator struct {
	Pos         lexer.Position
	Annotations []*Annotation `parser:"@@*"`
	Name        *Ident        `parser:"@@"`
}

// Typedef is `typedef type name[dims], ...;`.
type Typedef struct {
	Pos         lexer.Position
	Type        TypeSpec      `parser:"'typedef' @@"`
	Declarators []*Declarator `parser:"@@ ( ',' @@ )*"`
}

// Const is `const type NAME = expr;`.
type Const struct {
	Pos   lexer.Position
	Type  TypeSpec `parser:"'const' @@"`
	Name  *Ident   `parser:"@@"`
	Value *Expr    `parser:"'=' @@"`
}

// Service is the iox2 extension `service "name" { pattern; };`.
type Service struct {
	Pos      lexer.Position
	Name     *StringLit `parser:"'service' @@"`
	Patterns []Pattern  `parser:"'{' @@* '}'"`
}

// Pattern is a messaging pattern inside a service: *PublishSubscribe,
// *RequestResponse or *Event.
type Pattern interface{ pattern() }

func (*PublishSubscribe) pattern() {}
func (*RequestResponse) pattern()  {}
func (*Event) pattern()            {}

// PublishSubscribe is `publish_subscribe Payload;`.
type PublishSubscribe struct {
	Pos     lexer.Position
	Payload TypeSpec `parser:"'publish_subscribe' @@ ';'"`
}

// RequestResponse is `request_response Request -> Response;`.
type RequestResponse struct {
	Pos      lexer.Position
	Request  TypeSpec `parser:"'request_response' @@"`
	Response TypeSpec `parser:"'->' @@ ';'"`
}

// Event is `event;`, or `event IDType;` where IDType names the enum whose
// values are the service's event ids.
type Event struct {
	Pos    lexer.Position
	IDType TypeSpec `parser:"'event' @@? ';'"`
}

// Annotation is `@name` or `@name(args)`.
type Annotation struct {
	Pos  lexer.Position
	Name *Ident          `parser:"'@' @@"`
	Args *AnnotationArgs `parser:"@@?"`
}

// AnnotationArgs is the parenthesized argument list of an annotation.
type AnnotationArgs struct {
	Pos    lexer.Position
	Values []*Expr `parser:"'(' ( @@ ( ',' @@ )* )? ')'"`
}

// TypeSpec is a type reference: *SequenceType, *StringType, *MapType,
// *PrimitiveType or *NamedType.
type TypeSpec interface{ typeSpec() }

func (*SequenceType) typeSpec()  {}
func (*StringType) typeSpec()    {}
func (*MapType) typeSpec()       {}
func (*PrimitiveType) typeSpec() {}
func (*NamedType) typeSpec()     {}

// SequenceType is `sequence<T, N>` (or the unbounded `sequence<T>`, which
// the checker rejects).
type SequenceType struct {
	Pos   lexer.Position
	Elem  TypeSpec `parser:"'sequence' '<' @@"`
	Bound *Expr    `parser:"( ',' @@ )? '>'"`
}

// StringType is `string<N>` (or `string`, `wstring`, `wstring<N>`, which
// the checker rejects).
type StringType struct {
	Pos   lexer.Position
	Kind  string `parser:"@( 'string' | 'wstring' )"`
	Bound *Expr  `parser:"( '<' @@ '>' )?"`
}

// MapType is `map<K, V[, N]>`, which the checker rejects.
type MapType struct {
	Pos   lexer.Position
	Key   TypeSpec `parser:"'map' '<' @@"`
	Value TypeSpec `parser:"',' @@"`
	Bound *Expr    `parser:"( ',' @@ )? '>'"`
}

// NamedType is a reference to a declared type by its (scoped) name.
type NamedType struct {
	Pos  lexer.Position
	Name *ScopedName `parser:"@@"`
}

// ScopedName is `a::b::C` or `::a::C`.
type ScopedName struct {
	Pos      lexer.Position
	Absolute bool     `parser:"( @'::'"`
	Parts    []string `parser:"  @Ident | @Ident ) ( '::' @Ident )*"`
}

// Ident is an identifier with its position.
type Ident struct {
	Pos  lexer.Position
	Name string `parser:"@Ident"`
}

// StringLit is a string literal, already unquoted.
type StringLit struct {
	Pos   lexer.Position
	Value string `parser:"@String"`
}

// Expr is a constant expression: operands separated by binary operators.
// The checker applies the precedence of IDL (and C): * / % before + -
// before << >> before & before ^ before |.
type Expr struct {
	Pos   lexer.Position
	First *Unary      `parser:"@@"`
	Rest  []*BinaryOp `parser:"@@*"`
}

// BinaryOp is an operator and its right operand.
type BinaryOp struct {
	Pos   lexer.Position
	Op    string `parser:"@( '|' | '^' | '&' | '<<' | '>>' | '+' | '-' | '*' | '/' | '%' )"`
	Right *Unary `parser:"@@"`
}

// Unary is a prefix operator applied to an operand, or a primary.
type Unary struct {
	Pos     lexer.Position
	Op      string  `parser:"( @( '-' | '+' | '~' )"`
	Operand *Unary  `parser:"  @@"`
	Primary Primary `parser:"| @@ )"`
}

// Primary is an operand: *IntLit, *FloatLit, *StringLit, *BoolLit,
// *NameRef or *Paren.
type Primary interface{ primary() }

func (*IntLit) primary()    {}
func (*FloatLit) primary()  {}
func (*StringLit) primary() {}
func (*BoolLit) primary()   {}
func (*NameRef) primary()   {}
func (*Paren) primary()     {}

// IntLit is an integer literal: decimal, octal (leading 0) or hexadecimal.
type IntLit struct {
	Pos   lexer.Position
	Value string `parser:"@Int"`
}

// FloatLit is a floating-point literal (rejected by the checker).
type FloatLit struct {
	Pos   lexer.Position
	Value string `parser:"@Float"`
}

// BoolLit is TRUE or FALSE (true and false are accepted too).
type BoolLit struct {
	Pos   lexer.Position
	Value string `parser:"@( 'TRUE' | 'FALSE' | 'true' | 'false' )"`
}

// NameRef is a reference to a constant.
type NameRef struct {
	Pos  lexer.Position
	Name *ScopedName `parser:"@@"`
}

// Paren is a parenthesized expression.
type Paren struct {
	Pos   lexer.Position
	Inner *Expr `parser:"'(' @@ ')'"`
}
