// Command listener_all is the event example of iceoryx2's README that grabs
// all pending events at once, in Go: it waits for notifications on
// "MyEventName" and then reports each event id notified since the last look,
// until it is interrupted (or has received -n events). It blocks while
// nothing is notified: no polling, no CPU.
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
	log.SetPrefix("listener_all: ")

	// Ctrl-C (SIGINT) and SIGTERM end ctx, and with it the blocking waits
	// below, so that the loop ends and node.Close removes the node's files.
	// (The node itself leaves the signals alone.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	node, err := iox2.NewNodeBuilder().Name("listener_all").Create()
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

	for received := 0; *n == 0 || received < *n; {
		k, err := listener.BlockingWaitAll(ctx, func(id iox2.EventID) {
			fmt.Printf("event was triggered with id: %d\n", id)
		})
		if err != nil {
			if ctx.Err() != nil {
				break // SIGINT or SIGTERM
			}
			log.Fatal(err)
		}
		received += k
	}
	fmt.Println("exit")
}
