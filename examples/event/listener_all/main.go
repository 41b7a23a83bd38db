// Command listener_all is the event example of iceoryx2's README that grabs
// all pending events at once, in Go: every cycle it reports each event id
// notified on "MyEventName" since the last look, until it is interrupted
// (or has received -n events).
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/iox2go/iox2go/examples/gen/event"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after this many events (0: run until interrupted)")
	cycle := flag.Duration("cycle", time.Second, "longest wait for events")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("listener_all: ")

	// SignalHandling(true): Ctrl-C (SIGINT) and SIGTERM end the waits with
	// an error instead of killing the program, so that the loop below ends
	// and node.Close removes the node's files.
	node, err := iox2.NewNodeBuilder().Name("listener_all").SignalHandling(true).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	service, err := event.OpenOrCreateMyEvent(node)
	if err != nil {
		log.Fatal(err)
	}
	listener, err := event.MyEventListener(service).Create()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listener ready to receive events!")

	for received := 0; (*n == 0 || received < *n) && node.Wait(0) == nil; {
		k, err := listener.TimedWaitAll(func(id iox2.EventID) {
			fmt.Printf("event was triggered with id: %d\n", id)
		}, *cycle)
		if errors.Is(err, iox2.ErrNodeInterrupted) || errors.Is(err, iox2.ErrNodeTerminationRequest) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		received += k
	}
	fmt.Println("exit")
}
