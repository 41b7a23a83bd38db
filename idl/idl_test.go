package idl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func parse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("test.idl", []byte(src), nil)
	if err != nil {
		var list ErrorList
		errors.As(err, &list)
		var b strings.Builder
		PrintErrors(&b, list)
		t.Fatalf("Parse:\n%s", b.String())
	}
	return f
}

// TestGrammar keeps the grammar's EBNF as a golden file, so that a change
// of the grammar shows up in review.
func TestGrammar(t *testing.T) {
	golden := filepath.Join("..", "testdata", "golden", "grammar.ebnf")
	got := Grammar() + "\n"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("grammar changed; run go test ./idl -update and review the diff (-golden +grammar):\n%s", d)
	}
}

func TestLayouts(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{{
		name: "int32 then int64 is padded to 8 on every architecture",
		src:  `module m { struct S { int32 a; int64 b; uint8 c; }; };`,
		want: `struct m::S size=24 align=8
field a offset=0 size=4 type=int32
pad offset=4 size=4
field b offset=8 size=8 type=int64
field c offset=16 size=1 type=uint8
pad offset=17 size=7
end
`,
	}, {
		name: "classic spellings",
		src: `module m { struct S { short a; unsigned short b; long c; unsigned long d;
			long long e; unsigned long long f; octet g; char h; boolean i; float j; double k; int8 l; }; };`,
		want: `struct m::S size=56 align=8
field a offset=0 size=2 type=int16
field b offset=2 size=2 type=uint16
field c offset=4 size=4 type=int32
field d offset=8 size=4 type=uint32
pad offset=12 size=4
field e offset=16 size=8 type=int64
field f offset=24 size=8 type=uint64
field g offset=32 size=1 type=octet
field h offset=33 size=1 type=char
field i offset=34 size=1 type=boolean
pad offset=35 size=1
field j offset=36 size=4 type=float
field k offset=40 size=8 type=double
field l offset=48 size=1 type=int8
pad offset=49 size=7
end
`,
	}, {
		name: "strings and sequences use StaticString and StaticVec",
		src: `module m { struct S { string<7> a; string<8> b; sequence<uint8, 5> c; sequence<int16, 4> d;
			sequence<string<3>, 2> e; }; };`,
		want: `struct m::S size=112 align=8
field a offset=0 size=16 type=string<7>
field b offset=16 size=24 type=string<8>
field c offset=40 size=16 type=sequence<uint8,5>
field d offset=56 size=16 type=sequence<int16,4>
field e offset=72 size=40 type=sequence<string<3>,2>
end
`,
	}, {
		name: "arrays, typedefs, nested structs, enums",
		src: `module m {
			typedef int16 Quad[4];
			@bit_bound(16) enum E { A, @value(300) B };
			struct In { uint8 x; double y; };
			typedef In InAlias;
			struct S { Quad q[3]; E e; InAlias ins[2]; uint8 raw[2][3]; };
		};`,
		want: `enum m::E type=uint16 A=0 B=300
struct m::In size=16 align=8
field x offset=0 size=1 type=uint8
pad offset=1 size=7
field y offset=8 size=8 type=double
end
struct m::S size=72 align=8
field q offset=0 size=24 type=int16[3][4]
field e offset=24 size=2 type=m::E
pad offset=26 size=6
field ins offset=32 size=32 type=m::In[2]
field raw offset=64 size=6 type=uint8[2][3]
pad offset=70 size=2
end
`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := parse(t, tc.src)
			structs := f.Structs()
			s := structs[len(structs)-1]
			want := "iox2-layout/1\n" + tc.want
			if d := cmp.Diff(want, s.Layout); d != "" {
				t.Errorf("layout (-want +got):\n%s", d)
			}
			h := sha256.Sum256([]byte(s.Layout))
			if s.LayoutHash != hex.EncodeToString(h[:]) {
				t.Errorf("LayoutHash %s is not the SHA-256 of Layout", s.LayoutHash)
			}
			var end uint64
			for _, fl := range s.Fields {
				if fl.Offset != end {
					t.Errorf("field at %d follows the previous one ending at %d", fl.Offset, end)
				}
				end = fl.Offset + fl.Size
				if fl.Pad == (fl.Type != nil) {
					t.Errorf("padding field with a type, or field without one, at %d", fl.Offset)
				}
			}
			if end != s.Size || s.Size%s.Align != 0 {
				t.Errorf("fields end at %d; size %d, align %d", end, s.Size, s.Align)
			}
		})
	}
}

func TestConstExpressions(t *testing.T) {
	for expr, want := range map[string]int64{
		"1 + 2 * 3":        7,
		"(1 + 2) * 3":      9,
		"1 << 2 + 1":       8,
		"6 & 3 | 8 ^ 1":    11,
		"-7 / 2":           -3,
		"-7 % 2":           -1,
		"~0":               -1,
		"0x10 + 010 + 10":  34,
		"100 - 10 - 1":     89,
		"64 / 4 / 2":       8,
		"1 | 2 ^ 3 & 4":    3,
		"2 * -(3 + +1)":    -8,
		"m::A + ::m::A":    10,
		"(1 << 40) >> 38":  4,
		"A * A - A % 3":    23,
		"~~5":              5,
		"1 ^ 1 << 1 >> 1":  0,
		"7 & ~2":           5,
		"9223372036854775": 9223372036854775,
	} {
		f := parse(t, "module m { const int64 A = 5; const int64 X = "+expr+"; };")
		if got := f.Consts[1].Value; got.Cmp(big.NewInt(want)) != 0 {
			t.Errorf("%s = %v, want %d", expr, got, want)
		}
	}
}

func TestDeclarationOrder(t *testing.T) {
	// Types may be used before their declaration; Decls lists them
	// dependencies first, and constants in source order.
	f := parse(t, `module m {
		struct A { B b; sequence<C, 2> cs; string<4> s; };
		struct B { E e; };
		enum E { X };
		struct C { int8 x; };
		const int8 K = L;
		const int8 L = 1;
	};`)
	var got []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *Struct:
			got = append(got, d.Name)
		case *Enum:
			got = append(got, d.Name)
		case *StringType:
			got = append(got, d.GoName)
		case *SequenceType:
			got = append(got, d.GoName)
		}
	}
	want := []string{"E", "B", "C", "Seq_C_2", "String_4", "A"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Decls order (-want +got):\n%s", d)
	}
	if f.Consts[0].Name != "K" || f.Consts[1].Name != "L" {
		t.Errorf("Consts = %s, %s; want K, L", f.Consts[0].Name, f.Consts[1].Name)
	}
}

func TestScopes(t *testing.T) {
	f := parse(t, `
		struct Top { int8 x; };
		module a {
			struct P { int8 x; };
			module b {
				struct P { int16 y; };
				struct Q { P inner; a::P outer; ::a::P abs; Top top; };
			};
		};
		module a { struct R { b::Q q; }; };
	`)
	if f.Package != "a" {
		t.Errorf("Package = %q, want a", f.Package)
	}
	byName := map[string]*Struct{}
	for _, s := range f.Structs() {
		byName[s.ScopedName()] = s
	}
	q := byName["a::b::Q"]
	if q == nil || q.GoName != "BQ" {
		t.Fatalf("a::b::Q missing or misnamed: %+v", q)
	}
	types := []string{}
	for _, fl := range q.Fields {
		if !fl.Pad {
			types = append(types, fl.Type.String())
		}
	}
	if d := cmp.Diff([]string{"a::b::P", "a::P", "a::P", "Top"}, types); d != "" {
		t.Errorf("resolved member types (-want +got):\n%s", d)
	}
	if r := byName["a::R"]; r == nil || r.Fields[0].Type.String() != "a::b::Q" {
		t.Errorf("a::R in a reopened module does not see a::b::Q")
	}
}

func TestGoNames(t *testing.T) {
	for in, want := range map[string]string{
		"stamp_ns": "StampNs", "MAX_NAME": "MaxName", "Vec3": "Vec3", "IDLE": "Idle",
		"x": "X", "a__b": "AB", "HTTPServer": "HTTPServer", "raw_ADC2": "RawAdc2",
	} {
		if got := GoCamel(in); got != want {
			t.Errorf("GoCamel(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct{ name, module, want string }{
		{"robot/imu", "robot", "Imu"},
		{"My/Funk/ServiceName", "examples", "MyFunkServiceName"},
		{"Robot/IMU_raw", "robot", "ImuRaw"},
		{"robot", "robot", "Robot"},
		{"a.b-c d", "x", "ABCD"},
		{"robot/3d", "robot", "3d"},
	} {
		if got := ServiceGoName(tc.name, tc.module); got != tc.want {
			t.Errorf("ServiceGoName(%q, %q) = %q, want %q", tc.name, tc.module, got, tc.want)
		}
	}
}

func TestServiceModel(t *testing.T) {
	f := parse(t, `module robot {
		struct Imu { double x; };
		typedef Imu Alias;
		@enable_safe_overflow(FALSE) @max_nodes(3) @history_size(2) @subscriber_max_buffer_size(2)
		@max_publishers(1) @max_subscribers(4) @subscriber_max_borrowed_samples(5)
		service "robot/imu" { publish_subscribe Alias; };
		@go_name("Other") @enable_safe_overflow service "robot/imu2" { publish_subscribe Imu; };
	};`)
	s := f.Services[0]
	if s.GoName != "Imu" || s.Payload.Name != "Imu" || s.Pattern != PublishSubscribe {
		t.Errorf("service = %+v", s)
	}
	var got []string
	for _, q := range s.QoS {
		if q.IsBool {
			got = append(got, q.Name+"="+map[bool]string{true: "true", false: "false"}[q.Bool])
		} else {
			got = append(got, q.Name+"="+big.NewInt(int64(q.Value)).String())
		}
	}
	want := []string{"history_size=2", "subscriber_max_buffer_size=2", "subscriber_max_borrowed_samples=5",
		"max_publishers=1", "max_subscribers=4", "max_nodes=3", "enable_safe_overflow=false"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("QoS in canonical order (-want +got):\n%s", d)
	}
	if o := f.Services[1]; o.GoName != "Other" || len(o.QoS) != 1 || !o.QoS[0].Bool {
		t.Errorf("second service = %+v", o)
	}
}

func TestServiceOptionsModel(t *testing.T) {
	f := parse(t, `module robot {
		struct Stamp { uint64 ns; };
		struct Vec3 { float x; float y; float z; };
		typedef Stamp Header;
		typedef float Sample;
		@subscriber_history_request(1) @subscriber_buffer_size(2) @history_size(1)
		@backpressure(DISCARD_DATA) @publisher_max_loaned_samples(3) @max_slice_len(64) @enable_safe_overflow(FALSE)
		@require_attribute("b") @attribute("b", "2") @attribute("a", "1") @require_attribute("a", "1")
		@user_header(Header)
		service "robot/points" { publish_subscribe sequence<Vec3>; };
		service "robot/samples" { publish_subscribe sequence<Sample>; };
	};`)
	s := f.Services[0]
	if !s.Slice || s.Payload == nil || s.Payload.Name != "Vec3" || s.PayloadType.Kind != KindStruct {
		t.Errorf("slice of a struct: Slice %v, Payload %v, PayloadType %+v", s.Slice, s.Payload, s.PayloadType)
	}
	if s.UserHeader == nil || s.UserHeader.Name != "Stamp" {
		t.Errorf("UserHeader = %v, want the struct Stamp (the typedef resolved)", s.UserHeader)
	}
	str := func(qs []QoS) []string {
		var out []string
		for _, q := range qs {
			v := q.Enum
			if v == "" {
				v = big.NewInt(int64(q.Value)).String()
			}
			out = append(out, q.Name+"="+v)
		}
		return out
	}
	if d := cmp.Diff([]string{"publisher_max_loaned_samples=3", "backpressure=DISCARD_DATA", "max_slice_len=64"}, str(s.Publisher)); d != "" {
		t.Errorf("publisher settings in canonical order (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"subscriber_buffer_size=2", "subscriber_history_request=1"}, str(s.Subscriber)); d != "" {
		t.Errorf("subscriber settings in canonical order (-want +got):\n%s", d)
	}
	attrs := func(as []Attribute) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Key+"="+a.Value)
		}
		return out
	}
	if d := cmp.Diff([]string{"b=2", "a=1"}, attrs(s.Attributes)); d != "" {
		t.Errorf("attributes in declaration order (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"b=", "a=1"}, attrs(s.RequiredAttributes)); d != "" {
		t.Errorf("required attributes in declaration order (-want +got):\n%s", d)
	}
	p := f.Services[1]
	if !p.Slice || p.Payload != nil || p.PayloadType.Kind != KindPrimitive || p.PayloadType.Prim != Float ||
		p.UserHeader != nil || p.QoS != nil || p.Publisher != nil || p.Subscriber != nil || p.Attributes != nil {
		t.Errorf("slice of a primitive without settings: %+v", p)
	}
	var names []string
	for _, d := range f.GoDecls() {
		if d.What == `service "robot/samples"` {
			names = append(names, d.Name)
		}
	}
	want := []string{"SamplesServiceName", "SamplesService", "CreateSamples", "OpenSamples", "OpenOrCreateSamples", "SamplesPublisher", "SamplesSubscriber"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("Go names of a service (-want +got):\n%s", d)
	}
}

func TestTooManyErrors(t *testing.T) {
	src := "module m { struct S {\n" + strings.Repeat("Unknown x;\n", 12) + "}; };"
	_, err := Parse("t.idl", []byte(src), nil)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v", err)
	}
	if len(list) != 11 || list[10].Msg != "too many errors" {
		t.Errorf("got %d errors, last %q; want 10 and \"too many errors\"", len(list), list[len(list)-1].Msg)
	}
	if want := "t.idl:2:1: undefined: Unknown (and 10 more errors)"; list.Error() != want {
		t.Errorf("Error() = %q, want %q", list.Error(), want)
	}
	_, err = Parse("t.idl", []byte(src), &Options{AllErrors: true})
	if errors.As(err, &list); len(list) != 12 {
		t.Errorf("AllErrors: got %d errors, want 12", len(list))
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Error("empty list: Err() != nil")
	}
	at := func(line, col int) lexer.Position { return lexer.Position{Filename: "f.idl", Line: line, Column: col} }
	l.Add(at(3, 1), "c")
	l.Add(at(1, 5), "b")
	l.Add(at(1, 2), "a")
	l.Add(at(3, 1), "a")
	l.Sort()
	if got := l.Error(); got != "f.idl:1:2: a (and 3 more errors)" {
		t.Errorf("Error() = %q", got)
	}
	l.RemoveMultiples()
	var got []string
	for _, e := range l {
		got = append(got, e.Error())
	}
	if d := cmp.Diff([]string{"f.idl:1:2: a", "f.idl:3:1: a"}, got); d != "" {
		t.Errorf("RemoveMultiples (-want +got):\n%s", d)
	}
	if err := l.Err(); err == nil {
		t.Error("Err() = nil for a non-empty list")
	}
	var b strings.Builder
	PrintErrors(&b, l)
	if b.String() != "f.idl:1:2: a\nf.idl:3:1: a\n" {
		t.Errorf("PrintErrors wrote %q", b.String())
	}
}

// TestExamples checks the example IDL files and their type identities.
func TestExamples(t *testing.T) {
	f, err := ParseFile("../examples/idl/transmission.idl", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Services[0]
	if s.GoName != "MyFunkServiceName" || s.Payload.ScopedName() != "examples::TransmissionData" || s.Payload.Size != 16 {
		t.Errorf("transmission: %+v", s)
	}
	f, err = ParseFile("../examples/idl/robot.idl", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Services[0]; s.GoName != "Imu" || s.Payload.ScopedName() != "robot::Imu" {
		t.Errorf("robot: %+v", s)
	}
	f, err = ParseFile("../examples/idl/request_response.idl", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Services[0]; s.GoName != "MyFunkServiceName" || s.Pattern != RequestResponse ||
		s.Payload.ScopedName() != "examples::Number" || s.Response != s.Payload || s.Payload.Size != 8 {
		t.Errorf("request_response: %+v", s)
	}
	f, err = ParseFile("../examples/idl/event.idl", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Services[0]; s.GoName != "MyEvent" || s.Pattern != Event || s.Name != "MyEventName" ||
		len(s.Notifier) != 1 || s.Notifier[0].Name != "default_event_id" || s.Notifier[0].Value != 12 {
		t.Errorf("event: %+v", s)
	}
}
