// Command notifier is the event example of iceoryx2's README, in Go: it
// notifies the listeners of the event service "MyEventName" with event id
// 12 every cycle, until it is interrupted (or has sent -n notifications).
//
// Run it next to examples/event/listener or examples/event/listener_all.
package main

import (
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/iox2go/iox2go/examples/gen/event"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after this many notifications (0: run until interrupted)")
	cycle := flag.Duration("cycle", time.Second, "time between two notifications")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("notifier: ")

	// SignalHandling(true): Ctrl-C (SIGINT) and SIGTERM end the waits with
	// an error instead of killing the program, so that the loop below ends
	// and node.Close removes the node's files.
	node, err := iox2.NewNodeBuilder().Name("notifier").SignalHandling(true).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	service, err := event.OpenOrCreateMyEvent(node)
	if err != nil {
		log.Fatal(err)
	}
	notifier, err := event.MyEventNotifier(service).Create() // default event id 12, from the IDL
	if err != nil {
		log.Fatal(err)
	}

	const id = iox2.EventID(event.EventId)
	for sent := 0; (*n == 0 || sent < *n) && node.Wait(*cycle) == nil; sent++ {
		if _, err := notifier.NotifyWithCustomEventID(id); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("Trigger event with id %d ...\n", id)
	}
	fmt.Println("exit")
}
