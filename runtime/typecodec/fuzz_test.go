package typecodec_test

import (
	"bytes"
	"testing"

	"github.com/iox2go/iox2go/examples/gen/robot"
	"github.com/iox2go/iox2go/examples/gen/transmission"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/typecodec"
)

// FuzzParse: no layout makes Parse panic, and whatever it accepts can
// print a zeroed payload and read the output back to the same bytes.
// Arbitrary payload bytes never make AppendJSON panic.
func FuzzParse(f *testing.F) {
	for _, ti := range []iox2.TypeInfo{robot.ImuTypeInfo, robot.StampTypeInfo, robot.Vec3TypeInfo, transmission.TransmissionDataTypeInfo} {
		f.Add(ti.Layout, ti.Size, []byte{1, 2, 3})
	}
	f.Add("0 1 Flag bool\n1 1 _ [1]\n1 1 _[] uint8\n2 2 Small int16\n4 6 Grid [2]\n4 3 Grid[] [3]\n4 1 Grid[][] uint8\n", uint64(10), []byte{2})
	f.Add("0 4 . [2]\n0 2 [] int16\n", uint64(4), []byte{})
	f.Add("iox2-layout/1\nenum e type=uint16 A=1 B=65535\nstruct s size=24 align=8\nfield x offset=0 size=2 type=e\npad offset=2 size=6\nfield q offset=8 size=16 type=sequence<char,1>\nend\n", uint64(24), []byte{0xff})
	f.Add("iox2-layout/1\nstruct s size=16 align=8\nfield x offset=0 size=16 type=string<7>\nend\n", uint64(16), []byte{})
	f.Add("", uint64(3), []byte{0xab})
	f.Fuzz(func(t *testing.T, layout string, size uint64, seed []byte) {
		ty, err := typecodec.Parse(iox2.TypeInfo{Name: "fuzz", Size: size, Align: 1, Layout: layout})
		if err != nil {
			return
		}
		if ty.Size() != int(size) {
			t.Fatalf("Parse gave a type of %d bytes for a TypeInfo of %d", ty.Size(), size)
		}
		if size > 1<<16 {
			return // keep the fuzzer fast
		}
		ty.Fields()
		zero := make([]byte, size)
		out, err := ty.AppendJSON(nil, zero)
		if err != nil {
			t.Fatalf("AppendJSON of zeros: %v", err)
		}
		back := make([]byte, size)
		if err := ty.FromJSON(back, out); err != nil {
			t.Fatalf("FromJSON(%s): %v", out, err)
		}
		if !bytes.Equal(back, zero) {
			t.Fatalf("zeros do not round-trip through %s: %x", out, back)
		}
		p := make([]byte, size)
		for i := range p {
			if len(seed) > 0 {
				p[i] = seed[i%len(seed)] + byte(i/len(seed))
			}
		}
		ty.AppendJSON(nil, p)
	})
}

// FuzzFromJSON: no JSON makes FromJSON panic, and a value it accepts
// prints and reads back to the same bytes.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{
		`{"stamp_ns":1,"mode":"FAULT","calibrated":true,"frame":"x","raw":[[1,2,3,4],[5,6,7,8]],"points":[{"x":1}]}`,
		`{"temperature":"NaN","accel":{"x":"-Inf"}}`,
		`{"mode":200,"frame":"\udcff"}`,
		`{"points":[{},{},{"z":1e308}]}`,
		`[`, `{"a":}`, `null`,
	} {
		f.Add(s)
	}
	imu, err := typecodec.Parse(robot.ImuTypeInfo)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, js string) {
		p := make([]byte, imu.Size())
		if err := imu.FromJSON(p, []byte(js)); err != nil {
			return
		}
		out, err := imu.AppendJSON(nil, p)
		if err != nil {
			t.Fatalf("AppendJSON of what FromJSON(%s) wrote: %v", js, err)
		}
		q := make([]byte, imu.Size())
		if err := imu.FromJSON(q, out); err != nil {
			t.Fatalf("FromJSON(%s): %v", out, err)
		}
		if !bytes.Equal(p, q) {
			t.Fatalf("%s does not round-trip (via %s)", js, out)
		}
	})
}
