package runtime

import (
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

// FuzzRequestResponseHostileHeaders plays a hostile client and a hostile
// server of a slice service: after each side sends, the fuzzer rewrites
// what the other side reads from its memory (the request's id, slot and
// length, the client's request table entry, the response's request id and
// length). Neither side may crash, read past a chunk or lose a chunk: at
// the end of every round both pools are full again.
func FuzzRequestResponseHostileHeaders(f *testing.F) {
	f.Add(uint64(1), uint32(0), uint64(3), protocol.ReqWord(1, true, false), uint64(1), uint64(3))
	f.Add(uint64(0), uint32(0), uint64(3), uint64(0), uint64(1), uint64(3))
	f.Add(uint64(5), uint32(7), uint64(1<<40), ^uint64(0), uint64(2), uint64(1<<60))
	f.Add(uint64(1), uint32(1), uint64(8), protocol.ReqWord(1, true, true), uint64(9), uint64(8))
	cfg := testConfig(f)
	cfg.InProcess = true
	node, err := NewNodeBuilder().Config(cfg).SignalHandling(false).Create()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { node.Close() })
	svc, err := RequestResponseSlice[byte, uint16](node, "fuzz/rr").MaxActiveRequestsPerClient(2).OpenOrCreate()
	if err != nil {
		f.Fatal(err)
	}
	server, err := svc.ServerBuilder().MaxSliceLen(8).Create()
	if err != nil {
		f.Fatal(err)
	}
	client, err := svc.ClientBuilder().MaxSliceLen(8).Create()
	if err != nil {
		f.Fatal(err)
	}
	clientChunks, serverChunks := client.c.snd.pool.Cap(), server.s.snd.pool.Cap()
	f.Fuzz(func(t *testing.T, reqID uint64, channel uint32, reqLen, tableWord, respReqID, respLen uint64) {
		r, err := client.LoanSlice(3)
		if err != nil {
			t.Fatal(err)
		}
		chunk := r.chunk
		p, err := r.Send()
		if err != nil {
			t.Fatal(err)
		}
		// The hostile client rewrites its request and its table.
		h := client.c.snd.chunk(chunk)
		h.RequestID, h.Length = reqID, reqLen
		protocol.SetChunkChannel(h, channel)
		client.c.snd.table[p.k].Store(tableWord)
		a, err := server.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if a != nil {
			if n := len(a.PayloadSlice()); n > 8 {
				t.Fatalf("request of %d elements in a chunk of 8", n)
			}
			a.IsConnected()
			a.HasDisconnectHint()
			a.Header()
			m, err := a.LoanSlice(4)
			if err != nil {
				t.Fatal(err)
			}
			rc := m.chunk
			if err := m.Send(); err != nil {
				t.Fatal(err)
			}
			// The hostile server rewrites its response.
			rh := server.s.snd.chunk(rc)
			rh.RequestID, rh.Length = respReqID, respLen
			a.Close()
		}
		for {
			resp, err := p.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if resp == nil {
				break
			}
			if n := len(resp.PayloadSlice()); n > 8 {
				t.Fatalf("response of %d elements in a chunk of 8", n)
			}
			resp.Header()
			resp.Release()
		}
		p.IsConnected()
		p.Close()
		// Another server could still hold nothing: every chunk is back.
		server.s.mu.Lock()
		server.s.snd.maintainLocked()
		sf := server.s.snd.freeLocked()
		server.s.mu.Unlock()
		client.c.mu.Lock()
		client.c.snd.maintainLocked()
		cf := client.c.snd.freeLocked()
		client.c.mu.Unlock()
		if sf != serverChunks || cf != clientChunks {
			t.Fatalf("after a round: %d of %d server chunks, %d of %d client chunks free", sf, serverChunks, cf, clientChunks)
		}
	})
}

// FuzzDataSegmentTable checks that a data segment's request table, as a
// receiver reads it from another process's header, never reaches outside
// the mapping.
func FuzzDataSegmentTable(f *testing.F) {
	good := protocol.NewDataLayout(16, 8, 1, 12, 0, 0, 4)
	seed := make([]byte, good.Size)
	h := (*protocol.DataHeader)(unsafe.Pointer(&seed[shm.HeaderSize]))
	*h = protocol.DataHeader{ChunkStride: good.Stride, NumChunks: good.NumChunks, ChunksOffset: good.ChunksOff,
		PayloadOffset: good.PayloadOff, PayloadSize: good.PayloadSize, ElemSize: good.ElemSize, PoolOffset: good.PoolOff,
		TableOffset: good.TableOff, TableLen: good.TableLen}
	f.Add(seed, uint64(4))
	f.Add(seed[:300], uint64(4))
	f.Fuzz(func(t *testing.T, b []byte, want uint64) {
		mem := make([]uint64, (len(b)+7)/8+1)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&mem[0])), len(b))
		copy(buf, b)
		l, err := readDataLayout(fakeSegment{b: buf}, 16, 0, want)
		if err != nil {
			return
		}
		if l.TableLen != want || l.TableOff%8 != 0 || l.TableOff+8*l.TableLen > uint64(len(buf)) {
			t.Fatalf("table of %d entries at %d in a segment of %d bytes", l.TableLen, l.TableOff, len(buf))
		}
	})
}

// TestHostileRequestsAreDropped sends requests that name no slot of the
// client's table, or no request, as a buggy client could: the server drops
// them and keeps serving.
func TestHostileRequestsAreDropped(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/hostile", nil)
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	for _, bad := range []struct {
		id uint64
		ch uint32
	}{{0, 0}, {1, 4}, {1, 1 << 31}} {
		r := must[*RequestMut[rqMsg, rsMsg]](t)(client.Loan())
		i := r.chunk
		p := must[*PendingResponse[rqMsg, rsMsg]](t)(r.Send())
		h := client.c.snd.chunk(i)
		h.RequestID = bad.id
		protocol.SetChunkChannel(h, bad.ch)
		if a := must[*ActiveRequest[rqMsg, rsMsg]](t)(server.Receive()); a != nil {
			t.Fatalf("request with id %d, slot %d was received", bad.id, bad.ch)
		}
		if p.IsConnected() {
			t.Fatal("a dropped request is still connected")
		}
		p.Close()
	}
	if server.s.rcv.dropped != 3 {
		t.Fatalf("server dropped %d requests, want 3", server.s.rcv.dropped)
	}
	p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 1}))
	a := receiveRequest(t, server)
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: 1}))
	a.Close()
	if got := receiveResponses(t, p); len(got) != 1 || got[0].N != 1 {
		t.Fatalf("after hostile requests: %+v", got)
	}
	p.Close()
}
