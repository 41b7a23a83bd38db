// Command listener is the event example of iceoryx2's README, in Go: it
// waits for notifications of the event service "MyEventName", one event id
// at a time, and prints each, until it is interrupted (or has received -n
// events). It blocks while nothing is notified: no polling, no CPU.
//
// Notifications of one id that arrive before the listener looks are
// reported once, with their count (iceoryx2 coalesces them too).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/iox2go/iox2go/examples/gen/event"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after this many events (0: run until interrupted)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("listener: ")

	// Ctrl-C (SIGINT) and SIGTERM end ctx, and with it the blocking waits
	// below, so that the loop ends and node.Close removes the node's files.
	// (The node itself leaves the signals alone.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	node, err := iox2.NewNodeBuilder().Name("listener").Create()
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

	received := uint64(0)
	for ev, err := range listener.Events(ctx) { // one id per iteration
		if err != nil {
			if ctx.Err() != nil {
				break // SIGINT or SIGTERM
			}
			log.Fatal(err)
		}
		fmt.Printf("event was triggered with id: %d\n", ev.ID)
		received += ev.Count
		if *n > 0 && received >= uint64(*n) {
			break
		}
	}
	fmt.Println("exit")
}
