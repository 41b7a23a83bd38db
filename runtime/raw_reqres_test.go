package runtime

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

type rrReq struct {
	A uint64
	B int32
	_ [4]byte
}

type rrResp struct{ V [3]uint32 }

// TestRawReqResBothWays: a raw client gets the response stream of a typed
// server, and a typed client that of a raw server, bytes as they are.
func TestRawReqResBothWays(t *testing.T) {
	node := testNode(t, testConfig(t))
	typed := must[*RequestResponseService[rrReq, rrResp]](t)(RequestResponse[rrReq, rrResp](node, "raw/rr").OpenOrCreate())
	defer typed.Close()
	raw := must[*RawReqResService](t)(RequestResponseRaw(node, "raw/rr").Open())
	defer raw.Close()
	sc := raw.StaticConfig()
	if sc.RequestResponse.Request != must[TypeInfo](t)(typeInfoOf[rrReq]()) {
		t.Fatalf("raw view request type %+v", sc.RequestResponse.Request)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// raw client -> typed server
	srv := must[*Server[rrReq, rrResp]](t)(typed.Server())
	defer srv.Close()
	rc := must[*RawClient](t)(raw.Client(RawClientOptions{}))
	defer rc.Close()
	m := must[*RawRequestMut](t)(rc.LoanUninit(1))
	want := rrReq{A: 77, B: -5}
	if len(m.Payload()) != 16 {
		t.Fatalf("request payload of %d bytes", len(m.Payload()))
	}
	copy(m.Payload(), bytesOf(&want))
	pend := must[*RawPendingResponse](t)(m.Send())
	ar := must[*ActiveRequest[rrReq, rrResp]](t)(srv.BlockingReceive(ctx))
	if *ar.Payload() != want || ar.Header().ClientID != rc.ID() {
		t.Fatalf("typed server got %+v from %v", *ar.Payload(), ar.Header().ClientID)
	}
	for i := range uint32(2) {
		must[struct{}](t)(struct{}{}, ar.SendCopy(rrResp{V: [3]uint32{i, 10 + i, 20 + i}}))
	}
	ar.Close()
	for i := range uint32(2) {
		r := must[*RawResponse](t)(pend.BlockingReceive(ctx))
		w := rrResp{V: [3]uint32{i, 10 + i, 20 + i}}
		if !bytes.Equal(r.Payload(), bytesOf(&w)) || r.Len() != 1 {
			t.Fatalf("response %d: %x", i, r.Payload())
		}
		r.Release()
	}
	if _, err := pend.BlockingReceive(ctx); !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("after the stream: %v", err)
	}
	pend.Close()

	// typed client -> raw server
	rs := must[*RawServer](t)(raw.Server(RawServerOptions{}))
	defer rs.Close()
	srv.Close()
	tc := must[*Client[rrReq, rrResp]](t)(typed.Client())
	defer tc.Close()
	tp := must[*PendingResponse[rrReq, rrResp]](t)(tc.SendCopy(rrReq{A: 1, B: 2}))
	rar := must[*RawActiveRequest](t)(rs.BlockingReceive(ctx))
	if w := (rrReq{A: 1, B: 2}); !bytes.Equal(rar.Payload(), bytesOf(&w)) || rar.Header().ClientID != tc.ID() {
		t.Fatalf("raw server got %x", rar.Payload())
	}
	rm := must[*RawResponseMut](t)(rar.LoanUninit(1))
	w := rrResp{V: [3]uint32{7, 8, 9}}
	copy(rm.Payload(), bytesOf(&w))
	must[struct{}](t)(struct{}{}, rm.Send())
	rar.Close()
	resp := must[*Response[rrResp]](t)(tp.BlockingReceive(ctx))
	if *resp.Payload() != w {
		t.Fatalf("typed client got %+v", *resp.Payload())
	}
	resp.Release()
	tp.Close()
	if _, err := rc.LoanUninit(2); !errors.Is(err, ErrSliceLengthExceedsLimit) {
		t.Fatalf("2 elements of a fixed request: %v", err)
	}
}
