// Command publisher is the publish-subscribe example of iceoryx2's README,
// in Go: it publishes a TransmissionData sample on "My/Funk/ServiceName"
// every cycle, zero-copy, until it is interrupted (or has sent -n samples).
//
// Run it next to examples/publish_subscribe/subscriber, in any order.
package main

import (
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/iox2go/iox2go/examples/gen/transmission"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after sending this many samples (0: run until interrupted)")
	cycle := flag.Duration("cycle", time.Second, "time between two samples")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("publisher: ")

	// SignalHandling(true): Ctrl-C (SIGINT) and SIGTERM end the waits with
	// an error instead of killing the program, so that the loop below ends
	// and node.Close removes the node's files.
	node, err := iox2.NewNodeBuilder().Name("publisher").SignalHandling(true).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	service, err := transmission.OpenOrCreateMyFunkServiceName(node)
	if err != nil {
		log.Fatal(err)
	}
	publisher, err := service.Publisher()
	if err != nil {
		log.Fatal(err)
	}

	for counter := 0; *n == 0 || counter < *n; counter++ {
		if err := node.Wait(*cycle); err != nil {
			break // SIGINT or SIGTERM
		}
		sample, err := publisher.LoanUninit()
		if err != nil {
			log.Fatal(err)
		}
		*sample.Payload() = transmission.TransmissionData{
			X:     int32(counter),
			Y:     int32(counter) * 3,
			Funky: float64(counter) * 812.12,
		}
		receivers, err := sample.Send()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("send sample %d to %d subscriber(s)\n", counter, receivers)
	}
	fmt.Println("exit")
}
