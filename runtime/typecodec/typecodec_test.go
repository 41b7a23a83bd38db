package typecodec_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/examples/gen/robot"
	"github.com/iox2go/iox2go/examples/gen/transmission"
	"github.com/iox2go/iox2go/idl"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
	"github.com/iox2go/iox2go/runtime/typecodec"
)

func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

func parse(t testing.TB, ti iox2.TypeInfo) *typecodec.Type {
	t.Helper()
	ty, err := typecodec.Parse(ti)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImuFields(t *testing.T) {
	ty := parse(t, robot.ImuTypeInfo)
	if ty.Kind() != typecodec.Struct || ty.Name() != "robot::Imu" || ty.Size() != 1688 || ty.Align() != 8 || ty.String() != "robot::Imu" {
		t.Fatalf("Imu: kind %v name %q size %d align %d text %q", ty.Kind(), ty.Name(), ty.Size(), ty.Align(), ty)
	}
	var got []string
	for _, f := range ty.Fields() {
		got = append(got, strings.Join([]string{f.Name, itoa(f.Offset), itoa(f.Size), f.TypeText()}, " "))
	}
	want := []string{
		"stamp_ns 0 8 uint64", "mode 8 1 robot::Mode", "calibrated 9 1 boolean", " 10 6 pad",
		"frame 16 48 string<32>", "accel 64 24 robot::Vec3", "gyro 88 24 robot::Vec3", "raw 112 16 int16[2][4]",
		"status 128 1 uint8", " 129 7 pad", "temperature 136 8 double", "points 144 1544 sequence<robot::Vec3,64>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("fields:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	f := ty.Fields()
	if !f[3].Pad() || f[0].Pad() {
		t.Fatal("Pad() is wrong")
	}
	mode := f[1].Type
	if mode.Kind() != typecodec.Enum || len(mode.Enumerators()) != 3 || mode.Enumerators()[2] != (typecodec.Enumerator{Name: "FAULT", Value: 7}) {
		t.Fatalf("mode: %v %v", mode.Kind(), mode.Enumerators())
	}
	raw := f[7].Type
	if raw.Kind() != typecodec.Array || raw.Len() != 2 || raw.Elem().String() != "int16[4]" || raw.Elem().Elem().Kind() != typecodec.Int {
		t.Fatalf("raw: %v %d %q", raw.Kind(), raw.Len(), raw.Elem())
	}
	pts := f[11].Type
	if pts.Kind() != typecodec.Sequence || pts.Len() != 64 || pts.Elem().Name() != "robot::Vec3" || len(pts.Elem().Fields()) != 3 {
		t.Fatalf("points: %v %d %v", pts.Kind(), pts.Len(), pts.Elem())
	}
	if s := f[4].Type; s.Kind() != typecodec.String || s.Len() != 32 || s.Size() != 48 {
		t.Fatalf("frame: %v %d %d", s.Kind(), s.Len(), s.Size())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The JSON of the generated types, as encoding/json writes it from these.
type vec3JSON struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

type imuJSON struct {
	StampNs     uint64      `json:"stamp_ns"`
	Mode        any         `json:"mode"`
	Calibrated  bool        `json:"calibrated"`
	Frame       string      `json:"frame"`
	Accel       vec3JSON    `json:"accel"`
	Gyro        vec3JSON    `json:"gyro"`
	Raw         [2][4]int16 `json:"raw"`
	Status      uint8       `json:"status"`
	Temperature float64     `json:"temperature"`
	Points      []vec3JSON  `json:"points"`
}

func TestImuRoundTrip(t *testing.T) {
	ty := parse(t, robot.ImuTypeInfo)
	var v robot.Imu
	v.StampNs = math.MaxUint64 - 1 // not representable as a float64
	v.Mode = robot.ModeFault
	v.Calibrated = true
	v.Frame.Set("base_link \"é\" \\ \n")
	v.Accel = robot.Vec3{X: 1.5, Y: -2.25, Z: 0.1}
	v.Gyro = robot.Vec3{X: 1e-9, Y: 123456789, Z: -0}
	v.Raw = [2][4]int16{{1, -2, 3, -4}, {math.MaxInt16, math.MinInt16, 0, 7}}
	v.Status = 255
	v.Temperature = 21.5
	for i := range 3 {
		v.Points.Push(robot.Vec3{X: float64(i), Y: float64(i) / 4, Z: float64(-i)})
	}
	got, err := ty.AppendJSON([]byte("prefix:"), bytesOf(&v))
	if err != nil {
		t.Fatal(err)
	}
	want := imuJSON{StampNs: v.StampNs, Mode: "FAULT", Calibrated: true, Frame: v.Frame.String(),
		Accel: vec3JSON{1.5, -2.25, 0.1}, Gyro: vec3JSON{1e-9, 123456789, 0}, Raw: v.Raw, Status: 255, Temperature: 21.5,
		Points: []vec3JSON{{0, 0, 0}, {1, 0.25, -1}, {2, 0.5, -2}}}
	if string(got) != "prefix:"+mustJSON(t, want) {
		t.Fatalf("AppendJSON:\n%s\nwant:\n%s", got, "prefix:"+mustJSON(t, want))
	}
	var back robot.Imu
	if err := ty.FromJSON(bytesOf(&back), got[len("prefix:"):]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytesOf(&back), bytesOf(&v)) {
		t.Fatalf("FromJSON of AppendJSON differs:\n%x\n%x", bytesOf(&back), bytesOf(&v))
	}

	// An unnamed enum value is a number; what is left out is zero.
	v = robot.Imu{Mode: 5}
	got, err = ty.AppendJSON(nil, bytesOf(&v))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustJSON(t, imuJSON{Mode: 5, Points: []vec3JSON{}}); string(got) != want {
		t.Fatalf("AppendJSON:\n%s\nwant:\n%s", got, want)
	}
	back.StampNs = 99
	if err := ty.FromJSON(bytesOf(&back), []byte(`{"mode":5, "points": [{"y": 1}]}`)); err != nil {
		t.Fatal(err)
	}
	v.Points.Push(robot.Vec3{Y: 1})
	if back != v {
		t.Fatalf("FromJSON of a partial object: %+v", back)
	}
}

// TestSliceElementsAndHeader: the robot/points service carries a slice of
// Vec3 with a Stamp header; the command line converts each element.
func TestSliceElementsAndHeader(t *testing.T) {
	vec, hdr := parse(t, robot.Vec3TypeInfo), parse(t, robot.StampTypeInfo)
	pts := []robot.Vec3{{X: 1}, {Y: 2}, {Z: -3.5}}
	payload := unsafe.Slice((*byte)(unsafe.Pointer(&pts[0])), len(pts)*int(unsafe.Sizeof(pts[0])))
	var out []byte
	for i := range pts {
		var err error
		out, err = vec.AppendJSON(append(out, ' '), payload[i*vec.Size():(i+1)*vec.Size()])
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(out) != ` {"x":1,"y":0,"z":0} {"x":0,"y":2,"z":0} {"x":0,"y":0,"z":-3.5}` {
		t.Fatalf("elements: %s", out)
	}
	st := robot.Stamp{StampNs: 1 << 63, Seq: math.MaxUint32, SensorId: 3}
	out, err := hdr.AppendJSON(nil, bytesOf(&st))
	if err != nil || string(out) != `{"stamp_ns":9223372036854775808,"seq":4294967295,"sensor_id":3}` {
		t.Fatalf("header: %s, %v", out, err)
	}
	var back robot.Stamp
	if err := hdr.FromJSON(bytesOf(&back), out); err != nil || back != st {
		t.Fatalf("header back: %+v, %v", back, err)
	}
}

func TestTransmission(t *testing.T) {
	ty := parse(t, transmission.TransmissionDataTypeInfo)
	v := transmission.TransmissionData{X: math.MinInt32, Y: math.MaxInt32, Funky: 789.25}
	out, err := ty.AppendJSON(nil, bytesOf(&v))
	if err != nil || string(out) != `{"x":-2147483648,"y":2147483647,"funky":789.25}` {
		t.Fatalf("%s, %v", out, err)
	}
	var back transmission.TransmissionData
	if err := ty.FromJSON(bytesOf(&back), out); err != nil || back != v {
		t.Fatalf("%+v, %v", back, err)
	}
}

const allIDL = `
module t {
  @bit_bound(8) enum E8 { A, B, @value(200) C };
  @bit_bound(16) enum E16 { X, @value(65535) Y };
  enum E32 { P, Q };
  @bit_bound(64) enum E64 { @value(18446744073709551615) M };
  struct Inner { char tag; int64 v; };
  struct All {
    boolean b; octet o; char c; int8 i8; uint8 u8; int16 i16; uint16 u16;
    int32 i32; uint32 u32; int64 i64; uint64 u64; float f; double d;
    E8 e8; E16 e16; E32 e32; E64 e64;
    string<5> s; sequence<int16, 3> q; char cs[2][3]; sequence<string<4>, 2> ss;
    Inner inn[2]; sequence<Inner, 2> ins; float fs[3];
  };
};
`

// allType parses allIDL with the IDL checker and returns the type of
// t::All as the generator would store it.
func allType(t testing.TB) (*typecodec.Type, iox2.TypeInfo) {
	t.Helper()
	f, err := idl.Parse("all.idl", []byte(allIDL), nil)
	if err != nil {
		t.Fatal(err)
	}
	ss := f.Structs()
	s := ss[len(ss)-1]
	ti := iox2.TypeInfo{Name: "t::All", Size: s.Size, Align: s.Align, Layout: idl.CanonicalLayout(s)}
	return parse(t, ti), ti
}

type innerJSON struct {
	Tag string `json:"tag"`
	V   int64  `json:"v"`
}

type allJSON struct {
	B   bool         `json:"b"`
	O   uint8        `json:"o"`
	C   string       `json:"c"`
	I8  int8         `json:"i8"`
	U8  uint8        `json:"u8"`
	I16 int16        `json:"i16"`
	U16 uint16       `json:"u16"`
	I32 int32        `json:"i32"`
	U32 uint32       `json:"u32"`
	I64 int64        `json:"i64"`
	U64 uint64       `json:"u64"`
	F   any          `json:"f"`
	D   any          `json:"d"`
	E8  any          `json:"e8"`
	E16 any          `json:"e16"`
	E32 any          `json:"e32"`
	E64 any          `json:"e64"`
	S   string       `json:"s"`
	Q   []int16      `json:"q"`
	CS  [2][3]string `json:"cs"`
	SS  []string     `json:"ss"`
	In  [2]innerJSON `json:"inn"`
	Ins []innerJSON  `json:"ins"`
	FS  [3]any       `json:"fs"`
}

func TestEveryPrimitiveAndConstruct(t *testing.T) {
	ty, _ := allType(t)
	off := map[string]int{}
	for _, f := range ty.Fields() {
		off[f.Name] = f.Offset
	}
	for _, c := range []allJSON{
		{B: true, O: 255, C: "é", I8: math.MinInt8, U8: math.MaxUint8, I16: math.MinInt16, U16: math.MaxUint16,
			I32: math.MinInt32, U32: math.MaxUint32, I64: math.MinInt64, U64: math.MaxUint64, F: 0.1, D: 1e300,
			E8: "C", E16: "Y", E32: "Q", E64: "M", S: "héllo"[:5], Q: []int16{-1, 2}, CS: [2][3]string{{"a", "b", "\u0000"}, {"\n", "\"", "ÿ"}},
			SS: []string{"", "abcd"}, In: [2]innerJSON{{"x", 1}, {"y", -1}}, Ins: []innerJSON{{"z", math.MaxInt64}},
			FS: [3]any{"NaN", "+Inf", "-Inf"}},
		{C: "\u0000", F: "-Inf", D: "NaN", E8: "A", E16: "X", E32: "P", E64: 0, Q: []int16{}, SS: []string{},
			CS: [2][3]string{{"\u0000", "\u0000", "\u0000"}, {"\u0000", "\u0000", "\u0000"}}, In: [2]innerJSON{{"\u0000", 0}, {"\u0000", 0}},
			Ins: []innerJSON{}, FS: [3]any{0, 1.5, -3.25e-10}},
	} {
		js := mustJSON(t, c)
		payload := make([]byte, ty.Size())
		if err := ty.FromJSON(payload, []byte(js)); err != nil {
			t.Fatalf("FromJSON(%s): %v", js, err)
		}
		got, err := ty.AppendJSON(nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != js {
			t.Errorf("AppendJSON:\n%s\nwant:\n%s", got, js)
		}
		// A few bytes where the IDL puts them.
		ne := binary.NativeEndian
		if ne.Uint64(payload[off["u64"]:]) != c.U64 || int64(ne.Uint64(payload[off["i64"]:])) != c.I64 ||
			int16(ne.Uint16(payload[off["i16"]:])) != c.I16 || payload[off["u8"]] != c.U8 {
			t.Errorf("integers are not where the layout puts them")
		}
		if f, ok := c.F.(float64); ok && math.Float32frombits(ne.Uint32(payload[off["f"]:])) != float32(f) {
			t.Errorf("float is not where the layout puts it")
		}
		if c.S != "" && (string(payload[off["s"]:off["s"]+len(c.S)]) != c.S || ne.Uint64(payload[off["s"]+8:]) != uint64(len(c.S))) {
			t.Errorf("string<5> is not laid out as data[5], terminator, len at 8")
		}
	}
}

// TestOddBytes: what a misbehaving writer may leave in a payload.
func TestOddBytes(t *testing.T) {
	ty, _ := allType(t)
	payload := make([]byte, ty.Size())
	if err := ty.FromJSON(payload, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	off := map[string]int{}
	for _, f := range ty.Fields() {
		off[f.Name] = f.Offset
	}
	payload[off["b"]] = 2
	payload[off["e8"]] = 7
	payload[off["c"]] = 0xe9
	got, err := ty.AppendJSON(nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"b":2,`, `"e8":7,`, `"c":"é",`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("%s does not contain %s", got, want)
		}
	}
	if err := ty.FromJSON(payload, got); err == nil || err.Error() != `field "b": wants a boolean, found number` {
		t.Errorf("FromJSON of a boolean 2 = %v", err)
	}

	// Stored lengths beyond the capacity.
	ne := binary.NativeEndian
	for _, c := range []struct {
		field string
		at    int
		msg   string
	}{
		{"s", 8, `field "s": stored length 6 exceeds the capacity 5`},
		{"q", 8, `field "q": stored length 6 exceeds the capacity 3`},
	} {
		p := make([]byte, ty.Size())
		ne.PutUint64(p[off[c.field]+c.at:], 6)
		if _, err := ty.AppendJSON(nil, p); err == nil || err.Error() != c.msg {
			t.Errorf("AppendJSON with %s's length 6 = %v, want %s", c.field, err, c.msg)
		}
	}
	p := make([]byte, ty.Size())
	ne.PutUint64(p[off["ss"]+32:], 1)    // one string
	ne.PutUint64(p[off["ss"]+8:], 1<<63) // whose length is absurd
	if _, err := ty.AppendJSON(nil, p); err == nil || err.Error() != `field "ss[0]": stored length 9223372036854775808 exceeds the capacity 4` {
		t.Errorf("AppendJSON of a bad nested string = %v", err)
	}
	if _, err := ty.AppendJSON(nil, p[1:]); err == nil || err.Error() != "payload has 239 bytes, t::All has 240" {
		t.Errorf("AppendJSON of a short payload = %v", err)
	}
	if err := ty.FromJSON(p[1:], []byte(`{}`)); err == nil || err.Error() != "payload has 239 bytes, t::All has 240" {
		t.Errorf("FromJSON into a short payload = %v", err)
	}
}

func TestFromJSONErrors(t *testing.T) {
	ty, _ := allType(t)
	imu := parse(t, robot.ImuTypeInfo)
	for _, c := range []struct {
		ty   *typecodec.Type
		js   string
		want string
	}{
		{imu, `{"points":[{},{},{},{"x":"a"}]}`, `field "points[3].x": wants a number, found string`},
		{imu, `{"points":[{"w":1}]}`, `field "points[0].w": robot::Vec3 has no such field`},
		{imu, `{"foo":1}`, `field "foo": robot::Imu has no such field`},
		{imu, `{"stamp_ns":1,"stamp_ns":2}`, `field "stamp_ns": given twice`},
		{imu, `{"mode":"BUSY"}`, `field "mode": "BUSY" is not an enumerator of robot::Mode`},
		{imu, `{"mode":256}`, `field "mode": 256 is out of range for robot::Mode`},
		{imu, `{"mode":true}`, `field "mode": wants an enumerator name or a number, found boolean`},
		{imu, `{"calibrated":1}`, `field "calibrated": wants a boolean, found number`},
		{imu, `{"status":256}`, `field "status": 256 is out of range for uint8`},
		{imu, `{"status":-1}`, `field "status": -1 is out of range for uint8`},
		{imu, `{"status":1.5}`, `field "status": wants an integer, found 1.5`},
		{imu, `{"status":1e2}`, `field "status": wants an integer, found 1e2`},
		{imu, `{"stamp_ns":18446744073709551616}`, `field "stamp_ns": 18446744073709551616 is out of range for uint64`},
		{imu, `{"raw":[[1,2,3,4],[1,2,3]]}`, `field "raw[1]": wants 4 elements, found 3`},
		{imu, `{"raw":[[1,2,3,4],[1,2,3,4,5,6]]}`, `field "raw[1]": wants 4 elements, found 6`},
		{imu, `{"raw":[[1,2,3,4],[1,2,3,4],[]]}`, `field "raw": wants 2 elements, found 3`},
		{imu, `{"raw":[[1,2,3,32768]]}`, `field "raw[0][3]": 32768 is out of range for int16`},
		{imu, `{"raw":{}}`, `field "raw": wants an array, found object`},
		{imu, `{"frame":"012345678901234567890123456789012"}`, `field "frame": 33 bytes exceed the capacity 32`},
		{imu, `{"frame":null}`, `field "frame": wants a string, found null`},
		{imu, `{"accel":[1,2,3]}`, `field "accel": wants an object, found array`},
		{imu, `{"temperature":1e400}`, `field "temperature": 1e400 is out of range for double`},
		{imu, `{"temperature":"hot"}`, `field "temperature": wants a number, found string`},
		{imu, `[]`, `payload: wants an object, found array`},
		{imu, `{`, `payload: invalid JSON: unexpected end of input`},
		{imu, ``, `payload: invalid JSON: unexpected end of input`},
		{imu, `{"stamp_ns":}`, `field "stamp_ns": invalid JSON: invalid character '}' looking for beginning of value`},
		{imu, `{} {}`, `invalid JSON: data after the value`},
		{imu, `{} x`, `invalid JSON after the value: invalid character 'x' looking for beginning of value`},
		{ty, `{"f":1e39}`, `field "f": 1e39 is out of range for float`},
		{ty, `{"c":"ab"}`, `field "c": "ab" is not one character from U+0000 to U+00FF`},
		{ty, `{"c":"Ā"}`, `field "c": "Ā" is not one character from U+0000 to U+00FF`},
		{ty, `{"c":65}`, `field "c": wants a one-character string, found number`},
		{ty, `{"i8":-129}`, `field "i8": -129 is out of range for int8`},
		{ty, `{"e64":18446744073709551616}`, `field "e64": 18446744073709551616 is out of range for t::E64`},
		{ty, `{"q":[1,2,3,4,5]}`, `field "q": 5 elements exceed the capacity 3`},
		{ty, `{"ss":["abcde"]}`, `field "ss[0]": 5 bytes exceed the capacity 4`},
		{ty, `{"ins":[{"tag":"a","v":"1"}]}`, `field "ins[0].v": wants a number, found string`},
		{ty, `{"cs":[["a","b","c"],["d","e"]]}`, `field "cs[1]": wants 3 elements, found 2`},
	} {
		payload := make([]byte, c.ty.Size())
		err := c.ty.FromJSON(payload, []byte(c.js))
		if err == nil || err.Error() != c.want {
			t.Errorf("FromJSON(%s) = %v\nwant %s", c.js, err, c.want)
		}
	}
}

// reflectType returns the type of T as the runtime derives its layout by
// reflection (the TypeInfo of a service of T), and that TypeInfo.
func reflectType[T any](t *testing.T) (*typecodec.Type, iox2.TypeInfo) {
	t.Helper()
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := iox2.PublishSubscribe[T](node, "reflect").Create()
	if err != nil {
		t.Fatal(err)
	}
	ti := svc.StaticConfig().PublishSubscribe.Payload
	svc.Close()
	return parse(t, ti), ti
}

// TestReflectLayout: plain Go types, whose layout the runtime derives by
// reflection, read from a real service's static config.
func TestReflectLayout(t *testing.T) {
	type inner struct {
		A int8
		_ [3]byte
		B float32
	}
	type payload struct {
		Flag  bool
		Small int16
		Grid  [2][3]uint8
		Items [2]inner
		C     complex64
		Wide  complex128
		In    inner
		Last  uint64
	}
	ty, ti := reflectType[payload](t)
	if ty.Kind() != typecodec.Struct || ty.Name() != ti.Name || ty.Size() != int(unsafe.Sizeof(payload{})) {
		t.Fatalf("reflect type %v %q %d", ty.Kind(), ty.Name(), ty.Size())
	}
	var tbl []string
	for _, f := range ty.Fields() {
		tbl = append(tbl, f.Name+" "+itoa(f.Offset)+" "+itoa(f.Size)+" "+f.TypeText())
	}
	wantTbl := "Flag 0 1 bool\n 1 1 pad\nSmall 2 2 int16\nGrid 4 6 uint8[2][3]\n 10 2 pad\nItems 12 16 struct[2]\n" +
		"C 28 8 complex64\n 36 4 pad\nWide 40 16 complex128\nIn 56 8 struct\nLast 64 8 uint64"
	if strings.Join(tbl, "\n") != wantTbl {
		t.Fatalf("fields:\n%s\nwant:\n%s", strings.Join(tbl, "\n"), wantTbl)
	}
	v := payload{Flag: true, Small: -5, Grid: [2][3]uint8{{1, 2, 3}, {4, 5, 6}},
		Items: [2]inner{{A: -1, B: 0.5}, {A: 2, B: -0.25}}, C: complex(1, -2), Wide: complex(math.Inf(1), 0.5),
		In: inner{A: 9, B: 3}, Last: math.MaxUint64}
	out, err := ty.AppendJSON(nil, bytesOf(&v))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Flag":true,"Small":-5,"Grid":[[1,2,3],[4,5,6]],"Items":[{"A":-1,"B":0.5},{"A":2,"B":-0.25}],` +
		`"C":[1,-2],"Wide":["+Inf",0.5],"In":{"A":9,"B":3},"Last":18446744073709551615}`
	if string(out) != want {
		t.Fatalf("AppendJSON:\n%s\nwant:\n%s", out, want)
	}
	var back payload
	if err := ty.FromJSON(bytesOf(&back), out); err != nil || back != v {
		t.Fatalf("FromJSON: %+v, %v", back, err)
	}
	if err := ty.FromJSON(bytesOf(&back), []byte(`{"C":[1]}`)); err == nil || err.Error() != `field "C": wants 2 elements, found 1` {
		t.Fatalf("complex of one number: %v", err)
	}
	if err := ty.FromJSON(bytesOf(&back), []byte(`{"C":[1,2,3]}`)); err == nil || err.Error() != `field "C": wants 2 elements, found 3` {
		t.Fatalf("complex of three numbers: %v", err)
	}

	// A non-struct payload.
	prim := parse(t, iox2.TypeInfo{Name: "uint32", Size: 4, Align: 4, Layout: "0 4 . uint32\n"})
	if out, err := prim.AppendJSON(nil, []byte{1, 0, 0, 0}); err != nil || string(out) != string(mustJSON(t, binary.NativeEndian.Uint32([]byte{1, 0, 0, 0}))) {
		t.Fatalf("uint32 payload: %s, %v", out, err)
	}
	arr := parse(t, iox2.TypeInfo{Name: "[2]int16", Size: 4, Align: 2, Layout: "0 4 . [2]\n0 2 [] int16\n"})
	if arr.String() != "int16[2]" {
		t.Fatalf("array payload: %q", arr)
	}
}

func TestOpaque(t *testing.T) {
	for _, layout := range []string{"", "iox2-layout/2\nstruct x size=4 align=4\n", "something else\n", "0 4 . uint32"} {
		ty := parse(t, iox2.TypeInfo{Name: "x", Size: 4, Align: 4, Layout: layout})
		if ty.Kind() != typecodec.Opaque || ty.Size() != 4 || ty.Fields() != nil {
			t.Fatalf("layout %q: %v %d", layout, ty.Kind(), ty.Size())
		}
		out, err := ty.AppendJSON(nil, []byte{0, 1, 0xab, 0xff})
		if err != nil || string(out) != `"0001abff"` {
			t.Fatalf("opaque: %s, %v", out, err)
		}
		p := make([]byte, 4)
		if err := ty.FromJSON(p, out); err != nil || !bytes.Equal(p, []byte{0, 1, 0xab, 0xff}) {
			t.Fatalf("opaque back: %x, %v", p, err)
		}
		if err := ty.FromJSON(p, []byte(`"00"`)); err == nil || err.Error() != "payload: wants 8 hex digits, found 2" {
			t.Fatalf("short hex: %v", err)
		}
		if err := ty.FromJSON(p, []byte(`"0g000000"`)); err == nil || err.Error() != "payload: encoding/hex: invalid byte: U+0067 'g'" {
			t.Fatalf("bad hex: %v", err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	vec := "struct robot::Vec3 size=24 align=8\nfield x offset=0 size=8 type=double\nfield y offset=8 size=8 type=double\nfield z offset=16 size=8 type=double\nend\n"
	for _, c := range []struct {
		layout string
		size   uint64
		want   string
	}{
		{"iox2-layout/1\n" + vec, 16, `typecodec: layout of "x" describes 24 bytes, the type has 16`},
		{"iox2-layout/1\n" + vec[:len(vec)-1], 24, `typecodec: layout of "x": line 6: the description does not end with a newline`},
		{"iox2-layout/1\n" + strings.TrimSuffix(vec, "end\n"), 24, `typecodec: layout of "x": struct robot::Vec3 has no end`},
		{"iox2-layout/1\n", 24, `typecodec: layout of "x": no struct`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=4 size=4 type=int32\nend\n", 8, `typecodec: layout of "x": line 3: "field x offset=4 size=4 type=int32": offset 4, the previous member ends at 0`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=4 type=int32\nend\n", 8, `typecodec: layout of "x": line 4: "end": the members of a cover 4 of its 8 bytes`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=8 type=int32\nend\n", 8, `typecodec: layout of "x": line 3: "field x offset=0 size=8 type=int32": type int32 has size 4, not 8`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=16 type=int32[4]\nend\n", 8, `typecodec: layout of "x": line 3: "field x offset=0 size=16 type=int32[4]": reaches past the end of a (size 8)`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=8 type=b\nend\n", 8, `typecodec: layout of "x": line 3: "field x offset=0 size=8 type=b": type "b": "b" is not a primitive or an enum or struct defined before`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=4 type=int32\nfield x offset=4 size=4 type=int32\nend\n", 8, `typecodec: layout of "x": line 4: "field x offset=4 size=4 type=int32": field x is defined twice`},
		{"iox2-layout/1\nstruct a size=6 align=4\nend\n", 6, `typecodec: layout of "x": line 2: "struct a size=6 align=4": size 6 is not a multiple of alignment 4, a power of two`},
		{"iox2-layout/1\nenum e type=int8 A=0\n", 1, `typecodec: layout of "x": line 2: "enum e type=int8 A=0": enum type int8 is not uint8, uint16, uint32 or uint64`},
		{"iox2-layout/1\nenum e type=uint8 A=256\n", 1, `typecodec: layout of "x": line 2: "enum e type=uint8 A=256": enumerator A: value "256" is not a uint8`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=8 type=string<0>\nend\n", 8, `typecodec: layout of "x": line 3: "field x offset=0 size=8 type=string<0>": type "string<0>": capacity 0 out of range`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=8 type=int8[0]\nend\n", 8, `typecodec: layout of "x": line 3: "field x offset=0 size=8 type=int8[0]": type "int8[0]": array length 0`},
		{"iox2-layout/1\nstruct a size=8 align=8\nfield x offset=0 size=8 type=sequence<int8 4>\nend\n", 8, `typecodec: layout of "x": line 3: "field x offset=0 size=8 type=sequence<int8 4>": want: field NAME offset=N size=N type=TYPE`},
		{"iox2-layout/1\nwhat\n", 8, `typecodec: layout of "x": line 2: "what": unknown line`},
		{"0 4 A int32\n0 4 A int32\n", 4, `typecodec: layout of "x": line 2: field A at relative offset 0 overlaps the field before it`},
		{"0 4 A int32\n2 4 B int32\n", 8, `typecodec: layout of "x": line 2: field B at relative offset 2 overlaps the field before it`},
		{"0 4 A int64\n", 4, `typecodec: layout of "x": line 1: kind int64 has size 8, not 4`},
		{"0 4 A int32\n4 4 A[] int32\n", 8, `typecodec: layout of "x": line 2: "4 4 A[] int32": [] of something that is not an array`},
		{"0 4 A [2]\n0 4 A[] int32\n", 4, `typecodec: layout of "x": line 1: elements of 4 bytes, 2 apart`},
		{"0 4 A [2]\n2 2 A[] int16\n", 4, `typecodec: layout of "x": line 2: an array element at offset 2, the array starts at 0`},
		{"0 8 A uint64\n", 4, `typecodec: layout of "x": line 1: field A ends at 8, past the struct's 4 bytes`},
		{"0 8 A uintptr\n", 8, `typecodec: layout of "x": line 1: "0 8 A uintptr": kind "uintptr" is neither a Go kind nor [N]`},
		{"", 1 << 31, `typecodec: type "x" has size 2147483648, more than 2147483647`},
	} {
		_, err := typecodec.Parse(iox2.TypeInfo{Name: "x", Size: c.size, Align: 1, Layout: c.layout})
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q) = %v\nwant %s", c.layout, err, c.want)
		}
	}
}
