package typecodec_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// TestSwapBytesEveryConstruct: t::All written by this (little-endian)
// machine and converted reads, field by field, as a big-endian writer
// would have stored it; bytes without an order stay; a second conversion
// gives the original back; nothing is allocated.
func TestSwapBytesEveryConstruct(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the expected bytes below are written for a little-endian machine")
	}
	ty, _ := allType(t)
	if !ty.Swappable() {
		t.Fatal("t::All is not swappable")
	}
	off := map[string]int{}
	for _, f := range ty.Fields() {
		off[f.Name] = f.Offset
	}
	c := allJSON{B: true, O: 0xab, C: "z", I8: -2, U8: 0xcd, I16: -300, U16: 0x1234, I32: -70000, U32: 0x89abcdef,
		I64: -1 << 40, U64: 0x0102030405060708, F: 1.5, D: -2.25, E8: "C", E16: 0x0102, E32: "Q", E64: "M", S: "abc",
		Q: []int16{0x0102, -2}, CS: [2][3]string{{"a", "b", "c"}, {"d", "e", "f"}}, SS: []string{"wxyz"},
		In: [2]innerJSON{{"x", 0x1122334455667788}, {"y", -5}}, Ins: []innerJSON{{"q", 7}}, FS: [3]any{0.5, 2, -8}}
	orig := make([]byte, ty.Size())
	if err := ty.FromJSON(orig, []byte(mustJSON(t, c))); err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(orig)
	ty.SwapBytes(b)

	be := binary.BigEndian
	type want struct {
		name string
		at   int
		got  uint64 // read big-endian
		want uint64
	}
	u16 := func(at int) uint64 { return uint64(be.Uint16(b[at:])) }
	u32 := func(at int) uint64 { return uint64(be.Uint32(b[at:])) }
	u64 := func(at int) uint64 { return be.Uint64(b[at:]) }
	for _, w := range []want{
		{"i16", off["i16"], u16(off["i16"]), uint64(uint16(c.I16))},
		{"u16", off["u16"], u16(off["u16"]), uint64(c.U16)},
		{"i32", off["i32"], u32(off["i32"]), uint64(uint32(c.I32))},
		{"u32", off["u32"], u32(off["u32"]), uint64(c.U32)},
		{"i64", off["i64"], u64(off["i64"]), uint64(c.I64)},
		{"u64", off["u64"], u64(off["u64"]), c.U64},
		{"f", off["f"], u32(off["f"]), uint64(math.Float32bits(1.5))},
		{"d", off["d"], u64(off["d"]), math.Float64bits(-2.25)},
		{"e16 (258, no name)", off["e16"], u16(off["e16"]), 0x0102},
		{"e32 (Q = 1)", off["e32"], u32(off["e32"]), 1},
		{"e64 (M)", off["e64"], u64(off["e64"]), math.MaxUint64},
		{"s's length", off["s"] + 8, u64(off["s"] + 8), 3},
		{"q[0]", off["q"], u16(off["q"]), 0x0102},
		{"q[1]", off["q"] + 2, u16(off["q"] + 2), uint64(uint16(0xfffe))},
		{"q's length", off["q"] + 8, u64(off["q"] + 8), 2},
		{"inn[0].v", off["inn"] + 8, u64(off["inn"] + 8), 0x1122334455667788},
		{"inn[1].v", off["inn"] + 24, u64(off["inn"] + 24), uint64(math.MaxUint64 - 4)},
		{"ins[0].v", off["ins"] + 8, u64(off["ins"] + 8), 7},
		{"ins's length", off["ins"] + 32, u64(off["ins"] + 32), 1},
		{"fs[2]", off["fs"] + 8, u32(off["fs"] + 8), uint64(math.Float32bits(-8))},
	} {
		if w.got != w.want {
			t.Errorf("%s at %d: %#x big-endian, want %#x", w.name, w.at, w.got, w.want)
		}
	}
	for _, name := range []string{"b", "o", "c", "i8", "u8", "e8"} {
		if b[off[name]] != orig[off[name]] {
			t.Errorf("%s (one byte) changed: %#x -> %#x", name, orig[off[name]], b[off[name]])
		}
	}
	if !bytes.Equal(b[off["s"]:off["s"]+3], []byte("abc")) || !bytes.Equal(b[off["cs"]:off["cs"]+6], []byte("abcdef")) ||
		!bytes.Equal(b[off["ss"]:off["ss"]+4], []byte("wxyz")) || b[off["inn"]+16] != 'y' {
		t.Error("characters changed")
	}
	ty.SwapBytes(b)
	if !bytes.Equal(b, orig) {
		t.Error("converting twice does not give the original back")
	}
	if a := testing.AllocsPerRun(100, func() { ty.SwapBytes(b) }); a != 0 {
		t.Errorf("SwapBytes allocates %v times", a)
	}
}

// TestSwapBytesReflectLayout: a plain Go type's derived layout converts
// too, a complex number half by half.
func TestSwapBytesReflectLayout(t *testing.T) {
	type plain struct {
		A uint32
		B [2]uint16
		C complex64
		D bool
		E float64
	}
	ty, _ := reflectType[plain](t)
	if ty.Size() != 32 {
		t.Fatalf("size %d", ty.Size())
	}
	b := make([]byte, 32)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 0x01020304)
	le.PutUint16(b[4:], 0x0506)
	le.PutUint16(b[6:], 0x0708)
	le.PutUint32(b[8:], math.Float32bits(1))
	le.PutUint32(b[12:], math.Float32bits(-1))
	b[16] = 1
	le.PutUint64(b[24:], math.Float64bits(3))
	ty.SwapBytes(b)
	be := binary.BigEndian
	if be.Uint32(b[0:]) != 0x01020304 || be.Uint16(b[4:]) != 0x0506 || be.Uint16(b[6:]) != 0x0708 ||
		be.Uint32(b[8:]) != math.Float32bits(1) || be.Uint32(b[12:]) != math.Float32bits(-1) || b[16] != 1 ||
		be.Uint64(b[24:]) != math.Float64bits(3) {
		t.Errorf("converted: %x", b)
	}
}

// TestSwappable: bytes of unknown structure wider than one byte cannot be
// converted.
func TestSwappable(t *testing.T) {
	for _, c := range []struct {
		ti   iox2.TypeInfo
		want bool
	}{
		{iox2.TypeInfo{Name: "opaque", Size: 4, Align: 4}, false},
		{iox2.TypeInfo{Name: "byte", Size: 1, Align: 1}, true},
		{iox2.TypeInfo{Name: "[2]int16", Size: 4, Align: 2, Layout: "0 4 . [2]\n0 2 [] int16\n"}, true},
	} {
		if got := parse(t, c.ti).Swappable(); got != c.want {
			t.Errorf("%s: Swappable %v, want %v", c.ti.Name, got, c.want)
		}
	}
}
