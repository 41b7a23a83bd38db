package idl

import (
	"math/big"
	"time"

	"github.com/alecthomas/participle/v2/lexer"
)

// File is a checked IDL file: the model that the emitters in package
// templates work from. Every layout in it is computed, every padding byte
// is an explicit field, and every name is resolved.
type File struct {
	Name    string // the file name given to Parse
	Package string // default Go package: the first top-level module's name in lower case ("" without modules)

	Consts []*Const // in declaration order
	// Decls holds every type declaration in dependency order (a
	// declaration comes after everything it uses): *Enum, *Struct,
	// *Typedef, *StringType and *SequenceType.
	Decls    []Decl
	Services []*Service // in declaration order
}

// Structs returns the structs of f in dependency order.
func (f *File) Structs() []*Struct {
	var out []*Struct
	for _, d := range f.Decls {
		if s, ok := d.(*Struct); ok {
			out = append(out, s)
		}
	}
	return out
}

// Decl is a type declaration: *Enum, *Struct, *Typedef, *StringType or
// *SequenceType.
type Decl interface {
	Position() lexer.Position
}

// Named is what every user declaration has: its IDL name, the modules it
// is declared in, and its Go name.
type Named struct {
	Name   string   // IDL name, e.g. "Imu"
	Scope  []string // enclosing modules, outermost first, e.g. ["robot"]
	GoName string   // Go identifier, e.g. "Imu"
	Pos    lexer.Position
}

// ScopedName is the IDL scoped name, e.g. "robot::Imu".
func (n *Named) ScopedName() string {
	s := ""
	for _, m := range n.Scope {
		s += m + "::"
	}
	return s + n.Name
}

// Position implements Decl.
func (n *Named) Position() lexer.Position { return n.Pos }

// Kind is the kind of a Type.
type Kind int

const (
	KindPrimitive Kind = iota + 1
	KindEnum
	KindStruct
	KindTypedef
	KindArray
	KindString   // string<N>: iceoryx2's StaticString<N>
	KindSequence // sequence<T, N>: iceoryx2's StaticVec<T, N>
)

// Type is a resolved type with its layout.
type Type struct {
	Kind    Kind
	Prim    Prim          // KindPrimitive
	Enum    *Enum         // KindEnum
	Struct  *Struct       // KindStruct
	Typedef *Typedef      // KindTypedef
	Str     *StringType   // KindString
	Seq     *SequenceType // KindSequence
	Elem    *Type         // KindArray: the element type
	Len     uint64        // KindArray: the number of elements
	Size    uint64
	Align   uint64
}

// Resolved follows typedefs to the type they name.
func (t *Type) Resolved() *Type {
	for t.Kind == KindTypedef {
		t = t.Typedef.Type
	}
	return t
}

// Prim is a primitive type.
type Prim int

const (
	Boolean Prim = iota + 1
	Octet
	Char
	Int8
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Int64
	Uint64
	Float
	Double
)

var primNames = [...]string{
	Boolean: "boolean", Octet: "octet", Char: "char",
	Int8: "int8", Uint8: "uint8", Int16: "int16", Uint16: "uint16",
	Int32: "int32", Uint32: "uint32", Int64: "int64", Uint64: "uint64",
	Float: "float", Double: "double",
}

// String returns the canonical IDL spelling: "int32" for "long" as well.
func (p Prim) String() string { return primNames[p] }

// Size returns the size in bytes, which is also the alignment.
func (p Prim) Size() uint64 {
	switch p {
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float:
		return 4
	case Int64, Uint64, Double:
		return 8
	}
	return 1
}

// IsInteger reports whether p is an integer type (octet included,
// boolean and char excluded).
func (p Prim) IsInteger() bool {
	switch p {
	case Octet, Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Uint64:
		return true
	}
	return false
}

// Signed reports whether p is a signed integer type.
func (p Prim) Signed() bool {
	switch p {
	case Int8, Int16, Int32, Int64:
		return true
	}
	return false
}

// Struct is a struct with its complete layout.
type Struct struct {
	Named
	Fields     []*Field // in memory order, padding included
	Size       uint64   // a multiple of Align
	Align      uint64
	Layout     string // canonical layout description (see docs/IDL.md)
	LayoutHash string // lowercase hex SHA-256 of Layout
}

// Field is a member of a struct, or a run of padding bytes.
type Field struct {
	Name   string // IDL name; "" for padding
	GoName string // Go field name; "" for padding
	Type   *Type  // nil for padding
	Offset uint64
	Size   uint64
	Pad    bool
	Pos    lexer.Position
}

// Enum is an enumeration with a fixed width.
type Enum struct {
	Named
	Bits        int // 8, 16, 32 or 64 (@bit_bound; default 32)
	Enumerators []*Enumerator
}

// Prim returns the unsigned integer type that holds the enum's values.
func (e *Enum) Prim() Prim {
	switch e.Bits {
	case 8:
		return Uint8
	case 16:
		return Uint16
	case 64:
		return Uint64
	}
	return Uint32
}

// Enumerator is a named value of an enum.
type Enumerator struct {
	Name   string // IDL name
	GoName string // Go constant name: the enum's Go name followed by the enumerator's
	Value  uint64
	Pos    lexer.Position
}

// Typedef names another type.
type Typedef struct {
	Named
	Type *Type
}

// Const is an integer constant.
type Const struct {
	Named
	Type  *Type    // an integer primitive, or a typedef of one
	Value *big.Int // within the range of Type
}

// StringType is the layout of string<Cap>: iceoryx2's StaticString<Cap>,
// { data [Cap]u8, terminator u8, len u64 }, with explicit padding.
type StringType struct {
	Cap    uint64
	GoName string   // e.g. "String_32"
	Fields []*Field // data, terminator, padding, len
	Size   uint64
	Align  uint64
	Pos    lexer.Position // first use
}

// Position implements Decl.
func (s *StringType) Position() lexer.Position { return s.Pos }

// SequenceType is the layout of sequence<Elem, Cap>: iceoryx2's
// StaticVec<Elem, Cap>, { data [Cap]Elem, len u64 }, with explicit padding.
type SequenceType struct {
	Elem   *Type
	Cap    uint64
	GoName string   // e.g. "Seq_Vec3_64"
	Fields []*Field // data, padding, len
	Size   uint64
	Align  uint64
	Pos    lexer.Position // first use
}

// Position implements Decl.
func (s *SequenceType) Position() lexer.Position { return s.Pos }

// Pattern is a messaging pattern.
type Pattern int

const (
	PublishSubscribe Pattern = iota + 1
	RequestResponse
	Event
)

func (p Pattern) String() string {
	switch p {
	case PublishSubscribe:
		return "publish_subscribe"
	case RequestResponse:
		return "request_response"
	case Event:
		return "event"
	}
	return "unknown"
}

// Service is a service declaration.
type Service struct {
	Name    string   // the service name, e.g. "robot/imu"
	GoName  string   // e.g. "Imu"
	Scope   []string // enclosing modules
	Pattern Pattern
	// Payload is the payload struct (typedefs resolved) or, for a slice
	// service, the element struct; nil for a slice of a primitive type.
	// For a request-response service it is the request.
	Payload *Struct
	// PayloadType is the payload type or, for a slice service, the
	// element type, with typedefs resolved: a struct, or (slices only) a
	// primitive.
	PayloadType *Type
	// Slice reports a slice payload (publish_subscribe sequence<T>): each
	// sample holds as many elements of PayloadType as its publisher loans,
	// up to the publisher's max_slice_len. For a request-response service
	// (request_response sequence<T> -> sequence<U>), requests and
	// responses are both slices.
	Slice bool
	// UserHeader is the struct of @user_header (typedefs resolved), nil
	// without one.
	UserHeader *Struct
	// QoS holds the service QoS the IDL states, in the order of QoSNames
	// (publish-subscribe), ReqResQoSNames (request-response) or
	// EventQoSNames (event).
	QoS []QoS
	// Attributes are the @attribute key-value pairs, which the service is
	// created with, in declaration order.
	Attributes []Attribute
	// RequiredAttributes are the @require_attribute pairs, which an
	// existing service must have to be opened; Value "" requires the key
	// only.
	RequiredAttributes []Attribute
	Publisher          []QoS // the publisher defaults the IDL states, in the order of PublisherSettingNames
	Subscriber         []QoS // the subscriber defaults the IDL states, in the order of SubscriberSettingNames
	Notifier           []QoS // event: the notifier defaults the IDL states, in the order of NotifierSettingNames
	// Response and ResponseType are, for a request-response service, the
	// response as Payload and PayloadType are the request (for a slice
	// service, the element of each response).
	Response     *Struct
	ResponseType *Type
	Client       []QoS // request-response: the client defaults the IDL states, in the order of ClientSettingNames
	Server       []QoS // request-response: the server defaults the IDL states, in the order of ServerSettingNames
	// EventIDType is the enum whose values are the event ids of an event
	// service declared `event Enum;` (typedefs resolved), nil without one.
	EventIDType    *Enum
	eventIDTypePos lexer.Position // where `event Enum;` names it
	Pos            lexer.Position
}

// Attribute is a key-value attribute of a service.
type Attribute struct {
	Key, Value string
	Pos        lexer.Position // the annotation
}

// QoS is one quality-of-service setting of a service, publisher or
// subscriber, named as its IDL annotation (snake case, after the iceoryx2
// builder method).
type QoS struct {
	Name       string // e.g. "history_size"
	Value      int    // for counts and event ids
	Bool       bool   // for enable_safe_overflow
	IsBool     bool
	Enum       string        // for backpressure: one of BackpressureValues
	Duration   time.Duration // for deadline: positive
	IsDuration bool
	Pos        lexer.Position
}

// QoSNames lists the publish-subscribe QoS annotations in the order in
// which Service.QoS holds them.
var QoSNames = []string{
	"history_size",
	"subscriber_max_buffer_size",
	"subscriber_max_borrowed_samples",
	"max_publishers",
	"max_subscribers",
	"max_nodes",
	"enable_safe_overflow",
}

// PublisherSettingNames lists the annotations that preset the publisher
// builder, in the order in which Service.Publisher holds them.
var PublisherSettingNames = []string{
	"publisher_max_loaned_samples",
	"backpressure",
	"max_slice_len",
}

// SubscriberSettingNames lists the annotations that preset the subscriber
// builder, in the order in which Service.Subscriber holds them.
var SubscriberSettingNames = []string{
	"subscriber_buffer_size",
	"subscriber_history_request",
}

// ReqResQoSNames lists the request-response QoS annotations in the order
// in which Service.QoS holds them for a request-response service.
var ReqResQoSNames = []string{
	"enable_safe_overflow_for_requests",
	"enable_safe_overflow_for_responses",
	"enable_fire_and_forget_requests",
	"max_active_requests_per_client",
	"max_loaned_requests",
	"max_response_buffer_size",
	"max_borrowed_responses_per_pending_response",
	"max_servers",
	"max_clients",
	"max_nodes",
}

// ClientSettingNames lists the annotations that preset the client
// builder, in the order in which Service.Client holds them.
var ClientSettingNames = []string{
	"client_max_active_requests",
	"client_backpressure",
	"client_max_slice_len",
}

// ServerSettingNames lists the annotations that preset the server
// builder, in the order in which Service.Server holds them.
var ServerSettingNames = []string{
	"server_max_loaned_responses_per_request",
	"server_backpressure",
	"server_max_slice_len",
}

// EventQoSNames lists the event QoS annotations in the order in which
// Service.QoS holds them for an event service.
var EventQoSNames = []string{
	"max_notifiers",
	"max_listeners",
	"max_nodes",
	"event_id_max_value",
	"deadline",
	"notifier_created_event",
	"notifier_dropped_event",
	"notifier_dead_event",
}

// NotifierSettingNames lists the annotations that preset the notifier
// builder, in the order in which Service.Notifier holds them.
var NotifierSettingNames = []string{
	"default_event_id",
}

// BackpressureValues are the arguments of @backpressure, iceoryx2's
// backpressure strategies.
var BackpressureValues = []string{"RETRY_UNTIL_DELIVERED", "DISCARD_DATA"}
