package runtime

import (
	"testing"
	"time"
)

// TestSampleSentJustBeforeCloseIsDelivered sends to a subscriber that has
// not looked at its connections yet and closes the publisher at once: the
// publisher waits until the subscriber (its discovery goroutine) has mapped
// the connection and the data segment, so the sample is not lost with the
// files.
func TestSampleSentJustBeforeCloseIsDelivered(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "close/last-words", nil)
	for round := uint64(0); round < 20; round++ {
		sub := must[*Subscriber[msg]](t)(svc.Subscriber())
		pub := must[*Publisher[msg]](t)(svc.Publisher())
		if n := send(t, pub, round); n != 1 {
			t.Fatalf("round %d: send reached %d subscribers", round, n)
		}
		start := time.Now()
		pub.Close()
		if d := time.Since(start); d > node.config.CreationTimeout {
			t.Fatalf("round %d: Close took %v", round, d)
		}
		if got := receiveAll(t, sub); !eq(got, []uint64{round}) {
			t.Fatalf("round %d: received %v after the publisher closed", round, got)
		}
		sub.Close()
	}
}

// TestResponseSentJustBeforeServerExitsIsDelivered is the same for a
// server that answers a client it has just discovered and closes at once.
func TestResponseSentJustBeforeServerExitsIsDelivered(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "close/last-response", nil)
	for round := uint64(0); round < 20; round++ {
		server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
		client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
		p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: round}))
		a := receiveRequest(t, server)
		must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: round}))
		a.Close()
		server.Close()
		if got := receiveResponses(t, p); len(got) != 1 || got[0].N != round {
			t.Fatalf("round %d: received %+v after the server closed", round, got)
		}
		p.Close()
		client.Close()
	}
}
