package protocol

import (
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/shm"
)

// TestLayouts pins the size and the offset of every field of every shared
// struct: a change here changes the bytes that other processes (and the C
// library) read, so it bumps Version (and regenerates the C header).
func TestLayouts(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"DynHeader", unsafe.Sizeof(DynHeader{}), 512},
		{"DynHeader.Destroyer", unsafe.Offsetof(DynHeader{}.Destroyer), 0},
		{"DynHeader.Changes", unsafe.Offsetof(DynHeader{}.Changes), 128},
		{"DynHeader.LastNotification", unsafe.Offsetof(DynHeader{}.LastNotification), 256},
		{"DynHeader.MaxNodes", unsafe.Offsetof(DynHeader{}.MaxNodes), 384},
		{"DynHeader.MaxPublishers", unsafe.Offsetof(DynHeader{}.MaxPublishers), 388},
		{"DynHeader.MaxSubscribers", unsafe.Offsetof(DynHeader{}.MaxSubscribers), 392},
		{"DynHeader.Pattern", unsafe.Offsetof(DynHeader{}.Pattern), 396},

		{"NodeSlot", unsafe.Sizeof(NodeSlot{}), 16},
		{"NodeSlot.ID", unsafe.Offsetof(NodeSlot{}.ID), 0},
		{"NodeSlot.Wake", unsafe.Offsetof(NodeSlot{}.Wake), 8},

		{"PortSlot", unsafe.Sizeof(PortSlot{}), 64},
		{"PortSlot.State", unsafe.Offsetof(PortSlot{}.State), 0},
		{"PortSlot.ID", unsafe.Offsetof(PortSlot{}.ID), 8},
		{"PortSlot.Node", unsafe.Offsetof(PortSlot{}.Node), 16},
		{"PortSlot.roleA", unsafe.Offsetof(PortSlot{}.roleA), 24},
		{"PortSlot.roleB", unsafe.Offsetof(PortSlot{}.roleB), 32},
		{"PortSlot.roleC", unsafe.Offsetof(PortSlot{}.roleC), 40},
		{"PortSlot.DrainBy", unsafe.Offsetof(PortSlot{}.DrainBy), 48},
		{"PortSlot.Wake", unsafe.Offsetof(PortSlot{}.Wake), 56},

		{"DataHeader", unsafe.Sizeof(DataHeader{}), 128},
		{"DataHeader.ChunkStride", unsafe.Offsetof(DataHeader{}.ChunkStride), 0},
		{"DataHeader.NumChunks", unsafe.Offsetof(DataHeader{}.NumChunks), 8},
		{"DataHeader.ChunksOffset", unsafe.Offsetof(DataHeader{}.ChunksOffset), 16},
		{"DataHeader.PayloadOffset", unsafe.Offsetof(DataHeader{}.PayloadOffset), 24},
		{"DataHeader.PayloadSize", unsafe.Offsetof(DataHeader{}.PayloadSize), 32},
		{"DataHeader.ElemSize", unsafe.Offsetof(DataHeader{}.ElemSize), 40},
		{"DataHeader.PoolOffset", unsafe.Offsetof(DataHeader{}.PoolOffset), 48},
		{"DataHeader.Publisher", unsafe.Offsetof(DataHeader{}.Publisher), 56},
		{"DataHeader.HeaderOffset", unsafe.Offsetof(DataHeader{}.HeaderOffset), 64},
		{"DataHeader.HeaderSize", unsafe.Offsetof(DataHeader{}.HeaderSize), 72},
		{"DataHeader.TableOffset", unsafe.Offsetof(DataHeader{}.TableOffset), 80},
		{"DataHeader.TableLen", unsafe.Offsetof(DataHeader{}.TableLen), 88},

		{"ChunkHeader", unsafe.Sizeof(ChunkHeader{}), 48},
		{"ChunkHeader.Sequence", unsafe.Offsetof(ChunkHeader{}.Sequence), 0},
		{"ChunkHeader.Publisher", unsafe.Offsetof(ChunkHeader{}.Publisher), 8},
		{"ChunkHeader.Length", unsafe.Offsetof(ChunkHeader{}.Length), 16},
		{"ChunkHeader.RequestID", unsafe.Offsetof(ChunkHeader{}.RequestID), 24},
		{"ChunkHeader.channel", unsafe.Offsetof(ChunkHeader{}.channel), 32},

		{"ConnHeader", unsafe.Sizeof(ConnHeader{}), 128},
		{"ConnHeader.Sender", unsafe.Offsetof(ConnHeader{}.Sender), 0},
		{"ConnHeader.Receiver", unsafe.Offsetof(ConnHeader{}.Receiver), 8},
		{"ConnHeader.SubmissionCap", unsafe.Offsetof(ConnHeader{}.SubmissionCap), 16},
		{"ConnHeader.CompletionCap", unsafe.Offsetof(ConnHeader{}.CompletionCap), 20},
		{"ConnHeader.Channels", unsafe.Offsetof(ConnHeader{}.Channels), 24},
		{"ConnHeader.Attached", unsafe.Offsetof(ConnHeader{}.Attached), 32},

		{"EventHeader", unsafe.Sizeof(EventHeader{}), 256},
		{"EventHeader.Wake", unsafe.Offsetof(EventHeader{}.Wake), 0},
		{"EventHeader.Listener", unsafe.Offsetof(EventHeader{}.Listener), 128},
		{"EventHeader.NumIDs", unsafe.Offsetof(EventHeader{}.NumIDs), 136},

		{"shm.Header", unsafe.Sizeof(shm.Header{}), shm.HeaderSize},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestLayoutOffsets pins the segment geometries for a few capacities.
func TestLayoutOffsets(t *testing.T) {
	if got := DynamicSize(3, 2, 1); got != 128+512+64+3*64 {
		t.Errorf("DynamicSize(3, 2, 1) = %d", got)
	}
	if l := NewEventLayout(256); l.BitsOff != 384 || l.CountersOff != 384+256 || l.Size != 384+256+2048 {
		t.Errorf("NewEventLayout(256) = %+v", l)
	}
	if l := NewConnLayout(1, 4, 4); l.SubOff != 256 || l.SubSize != 384 || l.CompOff != 640 || l.Size != 1024 {
		t.Errorf("NewConnLayout(1, 4, 4) = %+v", l)
	}
	l := NewDataLayout(8, 8, 1, 4, 0, 0, 0)
	if l.PayloadOff != 48 || l.Stride != 64 || l.PoolOff != 256 || l.ChunksOff != 640 || l.Size != 640+4*64 {
		t.Errorf("NewDataLayout(8, 8, 1, 4) = %+v", l)
	}
	for i := uint32(0); i < 4; i++ {
		if j, ok := l.Decode(l.Encode(i)); !ok || j != i {
			t.Errorf("Decode(Encode(%d)) = %d, %v", i, j, ok)
		}
	}
}

// TestRequestWord pins the request table's word encoding.
func TestRequestWord(t *testing.T) {
	if w := ReqWord(5, true, false); w != 5<<2|1 || !ReqConnected(w, 5) || ReqHinted(w) {
		t.Errorf("active word %#x", w)
	}
	if w := ReqWord(5, true, true); w != 5<<2|3 || !ReqConnected(w, 5) || !ReqHinted(w) {
		t.Errorf("hinted word %#x", w)
	}
	if w := ReqWord(5, false, false); w != 5<<2 || ReqConnected(w, 5) {
		t.Errorf("closed word %#x", w)
	}
}

// TestGeometryAlignment checks that every part of the segments that
// another party writes is on its own 128-byte lines.
func TestGeometryAlignment(t *testing.T) {
	l := NewDataLayout(16, 8, 1, 10, 0, 0, 4)
	if l.TableOff%128 != 0 || l.TableOff+32 > l.ChunksOff || l.TableOff < l.PoolOff {
		t.Errorf("request table at %d, pool at %d, chunks at %d", l.TableOff, l.PoolOff, l.ChunksOff)
	}
	cl := NewConnLayout(4, 2, 16)
	if cl.CompOff != cl.SubOff+4*cl.SubSize || cl.Size < cl.CompOff || cl.SubOff%128 != 0 || cl.SubSize%128 != 0 {
		t.Errorf("connection layout %+v", cl)
	}
	for _, n := range []uint32{1, 64, 256, 65536} {
		l := NewEventLayout(n)
		if l.BitsOff%128 != 0 || l.CountersOff%128 != 0 || l.Size%128 != 0 || l.Size-l.CountersOff < int(n)*8 {
			t.Errorf("layout for %d ids: %+v", n, l)
		}
	}
}
