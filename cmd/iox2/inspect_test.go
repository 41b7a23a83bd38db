package main

// Unit tests of the inspection commands' helpers: the layout parser, the
// argument of node details, the --pattern and --state flags.

import (
	"bytes"
	"testing"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func TestInspectImuLayout(t *testing.T) {
	l := newTypeLayoutJSON(robot.ImuTypeInfo, "fixed")
	if l.LayoutFormat != "iox2-layout/1" || len(l.Structs) != 1 || l.Structs[0].Name != "robot::Vec3" || len(l.Structs[0].Fields) != 3 {
		t.Fatalf("structs: %+v", l.Structs)
	}
	if len(l.Fields) != 12 {
		t.Fatalf("robot::Imu fields: %+v", l.Fields)
	}
	if f := l.Fields[11]; f.Name != "points" || f.Offset != 144 || f.Size != 1544 || f.Type != "sequence<robot::Vec3,64>" || f.Padding {
		t.Errorf("points: %+v", f)
	}
	if f := l.Fields[9]; !f.Padding || f.Offset != 129 || f.Size != 7 || f.Name != "" {
		t.Errorf("padding: %+v", f)
	}
	if len(l.Enums) != 1 || l.Enums[0].Name != "robot::Mode" || l.Enums[0].Type != "uint8" || len(l.Enums[0].Values) != 3 || l.Enums[0].Values[2] != (layoutEnumValueJSON{"FAULT", 7}) {
		t.Errorf("enums: %+v", l.Enums)
	}

	// A layout the CLI cannot read is shown as stored, without fields.
	for _, bad := range []string{
		"iox2-layout/2\nstruct a size=1 align=1\nend\n",
		"iox2-layout/1\nstruct a size=x align=1\nend\n",
		"iox2-layout/1\nfield a offset=0 size=1 type=uint8\n",
		"iox2-layout/1\nstruct a size=1 align=1\n",
		"iox2-layout/1\nunion u\n",
	} {
		ti := iox2.TypeInfo{Name: "a", Size: 1, Align: 1, Layout: bad}
		if l := newTypeLayoutJSON(ti, "fixed"); l.Fields != nil || l.Layout != bad {
			t.Errorf("layout %q: want no fields and the text as stored, got %+v", bad, l)
		}
	}
}

func TestInspectTypeLayout(t *testing.T) {
	// The top-level struct is the one named like the type, nested ones follow.
	tj := newTypeLayoutJSON(robot.PlanResponseTypeInfo, "fixed")
	if len(tj.Fields) != 3 || tj.Fields[2].Type != "robot::Vec3" || len(tj.Structs) != 1 || tj.Structs[0].Name != "robot::Vec3" {
		t.Errorf("PlanResponse: %+v", tj)
	}
	// A layout derived from a Go type is read with typecodec; nested
	// structs are named by their path.
	ti := iox2.TypeInfo{Name: "main.sample", Size: 40, Align: 8, LayoutHash: "ab",
		Layout: "0 8 Seq uint64\n8 1 Mode uint8\n16 16 Raw [2]\n16 8 Raw[] int64\n32 8 In.X float64\n"}
	tj = newTypeLayoutJSON(ti, "fixed")
	if tj.LayoutFormat != "" || len(tj.Fields) != 5 || !tj.Fields[2].Padding || tj.Fields[3].Type != "int64[2]" ||
		len(tj.Structs) != 1 || tj.Structs[0].Name != "In" || tj.Structs[0].Fields[0].Name != "X" {
		t.Errorf("reflected layout: %+v", tj)
	}
	// A layout in a format nobody reads is shown as is.
	ti = iox2.TypeInfo{Name: "x::Y", Size: 16, Align: 8, LayoutHash: "ab", Layout: "other-layout/3\nwhatever\n"}
	tj = newTypeLayoutJSON(ti, "fixed")
	if tj.Fields != nil || tj.LayoutFormat != "other-layout/3" || tj.Layout != ti.Layout {
		t.Errorf("unknown layout: %+v", tj)
	}
	var b bytes.Buffer
	if err := printTypeLayout(&b, "Payload", tj); err != nil {
		t.Fatal(err)
	}
	want := "Payload: x::Y (size 16, align 8, fixed)\n  layout hash: ab\n  layout (other-layout/3):\n    other-layout/3\n    whatever\n"
	if b.String() != want {
		t.Errorf("printTypeLayout:\n%s\nwant:\n%s", b.String(), want)
	}
	// A malformed iox2-layout/1 is shown as is too.
	ti.Layout = "iox2-layout/1\nstruct x size=1\n"
	if tj = newTypeLayoutJSON(ti, ""); tj.Fields != nil || tj.LayoutFormat != "iox2-layout/1" {
		t.Errorf("malformed layout: %+v", tj)
	}
}

func TestInspectMatchNodeArg(t *testing.T) {
	nodes := []iox2.NodeInfo{
		{ID: 0x00000000000000aa, State: iox2.NodeAlive, Details: &iox2.NodeDetails{Name: "cam", PID: 100}},
		{ID: 0x00000000000000bb, State: iox2.NodeAlive, Details: &iox2.NodeDetails{Name: "cam", PID: 101}},
		{ID: 0x1234567890123456, State: iox2.NodeDead, Details: &iox2.NodeDetails{Name: "42", PID: 102}},
		{ID: 0x00000000000000dd, State: iox2.NodeInaccessible},
	}
	for _, tc := range []struct {
		arg  string
		want []iox2.ID
	}{
		{"cam", []iox2.ID{0xaa, 0xbb}},
		{"101", []iox2.ID{0xbb}},
		{"00000000000000DD", []iox2.ID{0xdd}},
		{"1234567890123456", []iox2.ID{0x1234567890123456}}, // 16 digits: an ID, not a PID
		{"42", []iox2.ID{0x1234567890123456}},               // no PID 42: the name
		{"nobody", nil},
		{"7", nil},
	} {
		var got []iox2.ID
		for _, n := range matchNodeArg(nodes, tc.arg) {
			got = append(got, n.ID)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.arg, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: got %v, want %v", tc.arg, got, tc.want)
			}
		}
	}
}

func TestInspectFlags(t *testing.T) {
	for _, ok := range []string{"all", "publish-subscribe", "publish_subscribe", "Event", "request-response", "pubsub", "reqres"} {
		if _, err := parsePatternFlag(ok); err != nil {
			t.Errorf("--pattern %s: %v", ok, err)
		}
	}
	keep, _ := parsePatternFlag("request-response")
	if !keep("request_response") || keep("event") {
		t.Error("--pattern request-response selects the wrong services")
	}
	if _, err := parsePatternFlag("blackboard"); exitCode(err) != exitUsage {
		t.Errorf("--pattern blackboard: %v", err)
	}
	keepState, _ := parseNodeState("dead")
	if !keepState(iox2.NodeDead) || keepState(iox2.NodeAlive) {
		t.Error("--state dead selects the wrong nodes")
	}
	if _, err := parseNodeState("zombie"); exitCode(err) != exitUsage {
		t.Errorf("--state zombie: %v", err)
	}
	s := iox2.ServiceInfo{Static: iox2.StaticConfig{Pattern: "event"}, Publishers: make([]iox2.PortInfo, 2), Subscribers: make([]iox2.PortInfo, 1)}
	if got := servicePortsText(s); got != "2 notifiers, 1 listener" {
		t.Errorf("servicePortsText: %q", got)
	}
}
