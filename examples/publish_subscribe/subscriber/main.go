// Command subscriber is the publish-subscribe example of iceoryx2's README,
// in Go: it prints every TransmissionData sample published on
// "My/Funk/ServiceName", reading it in place in shared memory, until it is
// interrupted (or has received -n samples).
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
	n := flag.Int("n", 0, "stop after receiving this many samples (0: run until interrupted)")
	cycle := flag.Duration("cycle", time.Second, "time between two looks for new samples")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("subscriber: ")

	// SignalHandling(true): Ctrl-C (SIGINT) and SIGTERM end the waits with
	// an error instead of killing the program, so that the loop below ends
	// and node.Close removes the node's files.
	node, err := iox2.NewNodeBuilder().Name("subscriber").SignalHandling(true).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	service, err := transmission.OpenOrCreateMyFunkServiceName(node)
	if err != nil {
		log.Fatal(err)
	}
	subscriber, err := service.Subscriber()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subscriber ready to receive data!")

	received := 0
	for (*n == 0 || received < *n) && node.Wait(*cycle) == nil {
		for {
			sample, err := subscriber.Receive()
			if err != nil {
				log.Fatal(err)
			}
			if sample == nil {
				break
			}
			d := sample.Payload()
			fmt.Printf("received: TransmissionData { x: %d, y: %d, funky: %.2f }\n", d.X, d.Y, d.Funky)
			sample.Release()
			received++
		}
	}
	fmt.Println("exit")
}
